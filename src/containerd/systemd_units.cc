#include "containerd/systemd_units.h"

#include <cstdlib>
#include <map>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include <systemd/sd-bus.h>

#include "common/clock.h"

namespace gpuop::containerd {
namespace {

constexpr char kService[] = "org.freedesktop.systemd1";
constexpr char kManagerPath[] = "/org/freedesktop/systemd1";
constexpr char kManager[] = "org.freedesktop.systemd1.Manager";

// sd-bus returns -errno.
std::string Errno(int r) { return std::error_code(-r, std::generic_category()).message(); }

std::string ErrorText(int r, const sd_bus_error& error) {
  if (sd_bus_error_is_set(&error) != 0) {
    return absl::StrCat(error.message != nullptr ? error.message : "", " (", error.name, ")");
  }
  return Errno(r);
}

// Frees what sd-bus hands out when it goes out of scope.
struct BusError {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  ~BusError() { sd_bus_error_free(&error); }
};
struct BusMessage {
  sd_bus_message* message = nullptr;
  ~BusMessage() { sd_bus_message_unref(message); }
};
struct BusSlot {
  sd_bus_slot* slot = nullptr;
  ~BusSlot() { sd_bus_slot_unref(slot); }
};

// Job path -> result, from every JobRemoved seen while waiting: the job may finish before
// RestartUnit's reply has told us its path.
int OnJobRemoved(sd_bus_message* message, void* userdata, sd_bus_error* /*error*/) {
  uint32_t id = 0;
  const char* job = nullptr;
  const char* unit = nullptr;
  const char* result = nullptr;
  if (sd_bus_message_read(message, "uoss", &id, &job, &unit, &result) >= 0) {
    (*static_cast<std::map<std::string, std::string>*>(userdata))[job] = result;
  }
  return 0;
}

}  // namespace

std::string SystemBusAddress(const std::string& host_root) {
  std::string root = host_root;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return absl::StrCat("unix:path=", root == "/" ? "" : root, "/run/dbus/system_bus_socket");
}

absl::StatusOr<std::unique_ptr<SystemdUnits>> SystemdUnits::Connect(const std::string& address) {
  sd_bus* bus = nullptr;
  int r = sd_bus_new(&bus);
  if (r < 0) return absl::InternalError(absl::StrCat("sd_bus_new: ", Errno(r)));
  std::unique_ptr<SystemdUnits> units(new SystemdUnits(bus));
  if ((r = sd_bus_set_address(bus, address.c_str())) < 0 ||
      (r = sd_bus_set_bus_client(bus, 1)) < 0 || (r = sd_bus_start(bus)) < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot reach systemd's D-Bus at ", address, ": ", Errno(r)));
  }
  return units;
}

SystemdUnits::~SystemdUnits() { sd_bus_flush_close_unref(bus_); }

absl::StatusOr<std::string> SystemdUnits::FirstLoaded(const std::vector<std::string>& units) {
  std::vector<std::string> states;
  for (const std::string& unit : units) {
    BusError error;
    BusMessage reply;
    int r = sd_bus_call_method(bus_, kService, kManagerPath, kManager, "LoadUnit", &error.error,
                               &reply.message, "s", unit.c_str());
    if (r < 0) {
      return absl::UnavailableError(
          absl::StrCat("systemd LoadUnit ", unit, ": ", ErrorText(r, error.error)));
    }
    const char* path = nullptr;
    if ((r = sd_bus_message_read(reply.message, "o", &path)) < 0) {
      return absl::InternalError(absl::StrCat("systemd LoadUnit ", unit, ": bad reply"));
    }
    char* state = nullptr;
    BusError property_error;
    r = sd_bus_get_property_string(bus_, kService, path, "org.freedesktop.systemd1.Unit",
                                   "LoadState", &property_error.error, &state);
    if (r < 0) {
      return absl::UnavailableError(
          absl::StrCat("systemd ", unit, " LoadState: ", ErrorText(r, property_error.error)));
    }
    const std::string load_state = state;
    std::free(state);
    if (load_state == "loaded") return unit;
    states.push_back(absl::StrCat(unit, " (", load_state, ")"));
  }
  return absl::NotFoundError(
      absl::StrCat("systemd runs none of containerd's units: ", absl::StrJoin(states, ", ")));
}

absl::Status SystemdUnits::Restart(const std::string& unit, std::chrono::milliseconds timeout) {
  // systemd sends job signals only to clients that subscribed.
  std::map<std::string, std::string> finished;
  BusSlot match;
  int r = sd_bus_match_signal(bus_, &match.slot, kService, kManagerPath, kManager, "JobRemoved",
                              OnJobRemoved, &finished);
  if (r < 0) {
    return absl::InternalError(absl::StrCat("D-Bus match for JobRemoved: ", Errno(r)));
  }
  {
    BusError error;
    r = sd_bus_call_method(bus_, kService, kManagerPath, kManager, "Subscribe", &error.error,
                           nullptr, "");
    if (r < 0) {
      return absl::UnavailableError(absl::StrCat("systemd Subscribe: ", ErrorText(r, error.error)));
    }
  }
  std::string job;
  {
    BusError error;
    BusMessage reply;
    r = sd_bus_call_method(bus_, kService, kManagerPath, kManager, "RestartUnit", &error.error,
                           &reply.message, "ss", unit.c_str(), "replace");
    if (r < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("systemd RestartUnit ", unit, ": ", ErrorText(r, error.error)));
    }
    const char* path = nullptr;
    if (sd_bus_message_read(reply.message, "o", &path) < 0 || path == nullptr) {
      return absl::InternalError(absl::StrCat("systemd RestartUnit ", unit, ": bad reply"));
    }
    job = path;
  }
  const common::Clock& clock = common::SteadyClock::Instance();
  const auto until = clock.Now() + timeout;
  while (!finished.contains(job)) {
    r = sd_bus_process(bus_, nullptr);
    if (r < 0) {
      return absl::UnavailableError(
          absl::StrCat("systemd's D-Bus went away while restarting ", unit, ": ", Errno(r)));
    }
    if (r > 0) continue;  // Handled a message; there may be more.
    const auto left = until - clock.Now();
    if (left <= std::chrono::milliseconds(0)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "systemd has not finished restarting ", unit, " after ",
          std::chrono::duration_cast<std::chrono::seconds>(timeout).count(), " s (job ", job, ")"));
    }
    sd_bus_wait(bus_, std::chrono::duration_cast<std::chrono::microseconds>(left).count());
  }
  {
    BusError error;
    sd_bus_call_method(bus_, kService, kManagerPath, kManager, "Unsubscribe", &error.error, nullptr,
                       "");
  }
  if (finished[job] != "done") {
    return absl::FailedPreconditionError(absl::StrCat("systemd restarted ", unit, " with result \"",
                                                      finished[job], "\": see `journalctl -u ",
                                                      unit, "` on the node"));
  }
  return absl::OkStatus();
}

}  // namespace gpuop::containerd
