#include "shared/transport/xen/vacate.h"

#include <sys/random.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "shared/transport/xen/handshake_keys.h"
#include "shared/transport/xen/xenstore.h"
#include "shared/util/deadline.h"

namespace ringbox::transport::xen {
namespace {
constexpr int kPollMs = 20;
}

Result<std::string> new_vacate_nonce() {
  unsigned char raw[8];
  if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw))
    return sys_error("draw a vacate nonce (getrandom)");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char b : raw) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

Result<void> request_vacate(uint32_t domid, const std::string& nonce, int timeout_ms) {
  auto xs = XsHandle::open();
  if (!xs) return std::move(xs.error());
  const std::string fe = frontend_dir(domid);
  const std::string be = backend_dir(domid);
  RINGBOX_TRY(xs->transact("ask for a vacate", [&](xs_transaction_t t) -> Result<void> {
    const uint64_t wait = std::min<uint64_t>(std::max(timeout_ms, 0), proto::kMaxVacateWaitMs);
    RINGBOX_TRY(xs->write(be + "/" + proto::kKeyVacateWaitMs, std::to_string(wait), t));
    return xs->write(be + "/" + proto::kKeyVacate, nonce, t);
  }));
  const Deadline deadline(timeout_ms);
  for (;;) {
    auto ack = xs->read(fe + "/" + proto::kKeyVacateAck);
    if (!ack) return std::move(ack.error());
    if (*ack && **ack == nonce) return ok();
    auto refused = xs->read(fe + "/" + proto::kKeyVacateRefused);
    if (!refused) return std::move(refused.error());
    if (*refused && **refused == nonce)
      return make_error(
          Errc::kCancelled,
          "the guest in domain " + std::to_string(domid) +
              " refused the save: its job is still in a file request that did not "
              "end within the budget of " +
              std::to_string(timeout_ms) +
              " ms (its console says more; for a slow submit side give `ringbox-host run` a "
              "larger --vacate-ack-timeout-ms, or an HTCondor job a larger JobMaxVacateTime)");
    auto dir = xs->read("/local/domain/" + std::to_string(domid) + "/domid");
    if (dir && !*dir)
      return make_error(Errc::kPeerGone, "domain " + std::to_string(domid) +
                                             " went away before acknowledging the vacate");
    if (deadline.passed())
      return make_error(Errc::kTimeout, "the guest in domain " + std::to_string(domid) +
                                            " did not acknowledge the vacate within " +
                                            std::to_string(timeout_ms) + " ms");
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
  }
}

std::optional<uint64_t> read_vacate_need_kib(uint32_t domid) {
  auto xs = XsHandle::open();
  if (!xs) return std::nullopt;
  auto raw = xs->read(frontend_dir(domid) + "/" + proto::kKeyVacateNeedKib);
  if (!raw || !*raw) return std::nullopt;
  auto v = parse_decimal(**raw, 0, (uint64_t{1} << 40) - 1, proto::kKeyVacateNeedKib);
  if (!v) return std::nullopt;
  return *v;
}

Result<void> withdraw_vacate(uint32_t domid) {
  auto xs = XsHandle::open();
  if (!xs) return std::move(xs.error());
  const std::string be = backend_dir(domid);
  return xs->transact("withdraw the vacate", [&](xs_transaction_t t) -> Result<void> {
    RINGBOX_TRY(xs->remove(be + "/" + proto::kKeyVacate, t));
    return xs->remove(be + "/" + proto::kKeyVacateWaitMs, t);
  });
}

}  // namespace ringbox::transport::xen
