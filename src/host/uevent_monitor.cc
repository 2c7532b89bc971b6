#include "host/uevent_monitor.h"

#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include "common/clock.h"

namespace gpuop::host {
namespace {

// Multicast group 1 carries the kernel's own uevents (udev re-broadcasts on group 2).
constexpr unsigned kKernelUeventGroup = 1;
// Polls in slices this long so that a stop is noticed promptly.
constexpr auto kStopCheckInterval = std::chrono::milliseconds(200);

// A kernel uevent is "ACTION@DEVPATH\0KEY=VALUE\0...". True for the PCI bus's events.
bool IsPciEvent(std::string_view message) {
  size_t at = 0;
  while (at < message.size()) {
    const size_t end = message.find('\0', at);
    const std::string_view field =
        message.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
    if (field == "SUBSYSTEM=pci") return true;
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  return false;
}

}  // namespace

absl::StatusOr<UeventMonitor> UeventMonitor::Open() {
  common::UniqueFd socket(
      ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT));
  if (!socket.Valid()) return absl::ErrnoToStatus(errno, "open a netlink uevent socket");
  sockaddr_nl address{};
  address.nl_family = AF_NETLINK;
  address.nl_groups = kKernelUeventGroup;
  if (::bind(socket.Get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::ErrnoToStatus(errno, "subscribe to kernel uevents");
  }
  return UeventMonitor(std::move(socket));
}

bool UeventMonitor::WaitForPciEvent(const common::StopSignal& stop,
                                    std::chrono::milliseconds timeout) {
  const common::Clock& clock = common::SteadyClock::Instance();
  const auto deadline = clock.Now() + timeout;
  char buffer[8192];
  while (!stop.Stopped()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.Now());
    if (left.count() <= 0) return false;
    pollfd watched{.fd = socket_.Get(), .events = POLLIN, .revents = 0};
    const int ready =
        ::poll(&watched, 1, static_cast<int>(std::min(left, kStopCheckInterval).count()));
    if (ready <= 0) continue;
    bool pci = false;
    while (true) {
      const ssize_t n = ::recv(socket_.Get(), buffer, sizeof(buffer), 0);
      if (n <= 0) break;  // EAGAIN: drained. ENOBUFS (overrun): we rescan anyway.
      pci = pci || IsPciEvent(std::string_view(buffer, static_cast<size_t>(n)));
    }
    if (pci) return true;
  }
  return false;
}

}  // namespace gpuop::host
