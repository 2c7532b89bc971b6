#pragma once

// Restarts a systemd unit through systemd's D-Bus API (org.freedesktop.systemd1.Manager), the
// way systemctl does it, without needing the host's systemctl binary or its libraries in the
// agent's image: subscribe to job signals, queue a RestartUnit job and wait for its JobRemoved
// signal, whose result says whether the unit came back ("done") or not ("failed", "timeout"...).
// One object per thread (sd-bus connections are not thread-safe).
//
//   absl::StatusOr<std::unique_ptr<SystemdUnits>> systemd =
//       SystemdUnits::Connect("unix:path=/host/run/dbus/system_bus_socket");
//   absl::StatusOr<std::string> unit = (*systemd)->FirstLoaded({"k3s.service",
//   "k3s-agent.service"}); absl::Status restarted = (*systemd)->Restart(*unit,
//   std::chrono::seconds(60));

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

struct sd_bus;

namespace gpuop::containerd {

class SystemdUnits {
 public:
  // `address` is a D-Bus address ("unix:path=..."): the system bus, or in tests the bus of a
  // `systemd --user` manager, whose Manager interface is the same.
  static absl::StatusOr<std::unique_ptr<SystemdUnits>> Connect(const std::string& address);
  ~SystemdUnits();
  SystemdUnits(const SystemdUnits&) = delete;
  SystemdUnits& operator=(const SystemdUnits&) = delete;

  // The first of `units` that systemd has loaded from a unit file (LoadState "loaded");
  // NotFound naming all of them when none is.
  absl::StatusOr<std::string> FirstLoaded(const std::vector<std::string>& units);

  // Restarts `unit` and waits until systemd has finished the job: OK when its result is "done".
  absl::Status Restart(const std::string& unit, std::chrono::milliseconds timeout);

 private:
  explicit SystemdUnits(sd_bus* bus) : bus_(bus) {}
  sd_bus* bus_;
};

// The system bus socket of the host whose / is at `host_root`, as a D-Bus address.
std::string SystemBusAddress(const std::string& host_root);

}  // namespace gpuop::containerd
