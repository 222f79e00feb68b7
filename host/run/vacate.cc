#include "host/run/vacate.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "host/run/zstd_pipe.h"
#include "shared/util/log.h"

namespace ringbox::host::run {

std::string seconds_since(std::chrono::steady_clock::time_point t0) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return buf;
}

VacateState::Step prepare_guest_vacate(Guest& guest, const RunConfig& cfg, VacateState& state,
                                       const std::string& why, bool go_on_when_refused) {
  log::warn(why + ": vacating the job (asking the guest to get ready for a save)");
  state.set(VacateState::Step::kAsking);
  auto t0 = std::chrono::steady_clock::now();
  auto ready = guest.prepare_vacate(cfg.vacate_ack_timeout_ms);
  if (ready) {
    log::info("the guest is ready for the save after " + seconds_since(t0) + " s");
    state.set(VacateState::Step::kReady);
    return VacateState::Step::kReady;
  }
  if (ready.error().code == Errc::kCancelled && go_on_when_refused) {
    auto withdrawn = guest.cancel_vacate();
    if (withdrawn) {
      log::warn("vacate: " + ready.error().message() + "; no save: the job goes on here");
      state.set(VacateState::Step::kNone);
      return VacateState::Step::kNone;
    }
    log::error("withdraw the refused vacate: " + withdrawn.error().message());
  }
  log::error("vacate: " + ready.error().message() +
             "; destroying the guest: the job will re-run from the start");
  state.set(VacateState::Step::kFailed);
  guest.kill();
  return VacateState::Step::kFailed;
}

Result<uint64_t> save_guest(Guest& guest, const RunConfig& cfg, int fd, const std::string& name) {
  auto [mem, vcpus] = guest.memory_mib_and_vcpus();
  auto key = load_restore_key(cfg.restore_key_file);
  if (!key) return std::move(key.error());
  if (cfg.vacate_balloon) log::info("vacate: guest memory " + guest.shrink_for_save());
  auto t0 = std::chrono::steady_clock::now();
  RestoreHeader header{mem, vcpus, cfg.restore_zstd, 0, {}};
  auto size = write_restore_fd(fd, name, header, *key, [&](int out) {
    if (!cfg.restore_zstd) return guest.save(out);
    return write_compressed(out, [&](int pipe_fd) { return guest.save(pipe_fd); });
  });
  if (size)
    log::info("vacated: saved the job's domain (" + std::to_string(mem) + " MiB) to " + name +
              ", " + std::to_string(*size) + " bytes" +
              (cfg.restore_zstd ? " (zstd)" : " (uncompressed)") + ", in " + seconds_since(t0) +
              " s");
  return size;
}

Result<uint64_t> save_guest_to_path(Guest& guest, const RunConfig& cfg, const std::string& path) {
  const std::string part = path + ".part";
  ::unlink(part.c_str());
  UniqueFd fd(::open(part.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return sys_error("create the restore file " + part);
  auto size = save_guest(guest, cfg, fd.get(), part);
  if (size && ::rename(part.c_str(), path.c_str()) != 0)
    size = sys_error("rename " + part + " to " + path);
  if (!size) ::unlink(part.c_str());
  return size;
}

Result<std::unique_ptr<Guest>> restore_guest(const RunConfig& cfg, OpenedRestore& restore,
                                             double* seconds) {
  RunConfig rcfg = cfg;
  rcfg.domain.memory_mib = restore.header.memory_mib;
  rcfg.domain.vcpus = restore.header.vcpus;
  auto t0 = std::chrono::steady_clock::now();
  Result<std::unique_ptr<Guest>> guest = make_error(Errc::kNotFound, "no guest");
  if (restore.header.zstd) {
    auto dz = Decompressor::start(restore.fd.get());
    if (!dz) return std::move(dz.error());
    guest = launch_xen_guest(rcfg, (*dz)->fd());
    auto z = (*dz)->finish();
    if (!guest && !z)
      return make_error(guest.error().code,
                        guest.error().message() + " (" + z.error().message() + ")");
  } else {
    guest = launch_xen_guest(rcfg, restore.fd.get());
  }
  if (!guest) return guest;
  (*guest)->grow_after_restore();
  if (seconds)
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return guest;
}

}  // namespace ringbox::host::run
