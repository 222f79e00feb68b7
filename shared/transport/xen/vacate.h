// The host's half of a vacate (docs/vacate.md; the keys are in ringbox_proto.h, "Vacate"):
// ask the guest's frontend to get ready for a save and wait, bounded, for its answer.
//
// Trust: the guest may never answer, answer wrongly or go away; every wait here ends by its
// deadline, and only the exact nonce we wrote counts as an answer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "shared/util/result.h"

namespace ringbox::transport::xen {

// 16 random lowercase hex digits (getrandom).
Result<std::string> new_vacate_nonce();
// Writes `nonce` as the backend's vacate key for domain `domid` (and timeout_ms as
// vacate-wait-ms, the frontend's budget) and waits up to timeout_ms for the frontend's
// vacate-ack to equal it. Errc::kCancelled when the guest refused (vacate-refused: it cannot be
// saved now, and runs on; withdraw the request); Errc::kTimeout when it did not answer;
// Errc::kPeerGone when the guest's directory vanished (the domain ended).
Result<void> request_vacate(uint32_t domid, const std::string& nonce, int timeout_ms);
// The memory the acknowledged guest says it needs (vacate-need-kib), bounded to [0, 2^40);
// nullopt when it said nothing usable (a hostile guest can only make its own save bigger).
std::optional<uint64_t> read_vacate_need_kib(uint32_t domid);
// Removes the vacate keys: a guest that acknowledged reconnects in place (a cancelled save).
Result<void> withdraw_vacate(uint32_t domid);

}  // namespace ringbox::transport::xen
