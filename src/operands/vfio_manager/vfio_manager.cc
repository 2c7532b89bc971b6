#include "operands/vfio_manager/vfio_manager.h"

#include <filesystem>

#include "absl/strings/str_cat.h"

#include "api/paths.h"
#include "common/atomic_file.h"
#include "host/uevent_monitor.h"
#include "operands/vfio_manager/previous_drivers.h"

namespace gpuop::operands {

bool VfioPassReport::AllBound() const {
  if (!scan_problems.empty()) return false;
  for (const host::DeviceBinding& binding : bindings) {
    if (binding.outcome == host::DeviceBinding::Outcome::kFailed) return false;
  }
  return true;
}

std::string VfioPassReport::NotReadyReason() const {
  if (Ready()) return "";
  int failed = 0;
  for (const host::DeviceBinding& binding : bindings) {
    if (binding.outcome == host::DeviceBinding::Outcome::kFailed) ++failed;
  }
  if (failed > 0) return absl::StrCat(failed, " PCI function(s) could not be bound to vfio");
  if (!scan_problems.empty()) {
    return absl::StrCat(scan_problems.size(), " PCI device(s) could not be read");
  }
  return "no devices to bind";
}

VfioManager::VfioManager(const host::HostRoot& root, host::Kernel& kernel,
                         VfioManagerOptions options, common::Logger& log)
    : root_(root), binder_(root, kernel, options.binder), options_(std::move(options)), log_(log) {
  LoadState();
}

void VfioManager::LoadState() {
  if (options_.state_file.empty()) return;
  absl::StatusOr<std::vector<host::DeviceBinding>> earlier =
      LoadPreviousDrivers(options_.state_file);
  if (!earlier.ok()) {
    log_.Warn("ignoring the state file; drivers bound before this start will not be restored",
              {{"error", std::string(earlier.status().message())}});
    return;
  }
  for (host::DeviceBinding& binding : *earlier) {
    // Only what is still as we left it: someone may have rebound the device meanwhile.
    absl::StatusOr<host::PciDevice> device = host::ReadPciDevice(root_, binding.address);
    if (device.ok() && device->driver == binding.driver) {
      log_.Info("bound by an earlier run",
                {{"bdf", binding.address}, {"previous_driver", binding.previous_driver}});
      bound_by_us_.push_back(std::move(binding));
    }
  }
  if (bound_by_us_.size() != earlier->size()) SaveState();
}

void VfioManager::SaveState() {
  if (options_.state_file.empty()) return;
  if (absl::Status saved = SavePreviousDrivers(options_.state_file, bound_by_us_); !saved.ok()) {
    log_.Error("cannot record the previous drivers", {{"error", std::string(saved.message())}});
  }
}

VfioPassReport VfioManager::BindAll() {
  VfioPassReport report;
  host::PciScan scan = host::ScanPciDevices(root_);
  for (const absl::Status& problem : scan.problems) {
    log_.Error("cannot read a PCI device", {{"error", std::string(problem.message())}});
  }
  report.scan_problems = std::move(scan.problems);
  const size_t bound_before = bound_by_us_.size();
  for (const host::BindTarget& target : host::BindTargets(scan, options_.selection)) {
    if (target.companion_of.empty()) ++report.selected;
    host::DeviceBinding binding = binder_.Bind(target.device.address);
    const std::string& bdf = binding.address;
    switch (binding.outcome) {
      case host::DeviceBinding::Outcome::kAlreadyBound:
        break;  // Steady state: nothing to say on every pass.
      case host::DeviceBinding::Outcome::kBound:
        log_.Info("bound to vfio", {{"bdf", bdf},
                                    {"role", target.Reason()},
                                    {"driver", binding.driver},
                                    {"previous_driver", binding.previous_driver}});
        bound_by_us_.push_back(binding);
        break;
      case host::DeviceBinding::Outcome::kFailed:
        log_.Error("bind failed", {{"bdf", bdf},
                                   {"role", target.Reason()},
                                   {"error", std::string(binding.error.message())}});
        break;
    }
    report.bindings.push_back(std::move(binding));
  }
  if (report.selected == 0) log_.Warn("no devices to bind on this node");
  if (bound_by_us_.size() != bound_before) SaveState();
  UpdateReadyFile(report);
  for (const VfioPassObserver& observer : observers_) observer(report);
  return report;
}

std::string VfioManager::ReadyFile() const {
  return absl::StrCat(options_.validations_dir, "/", api::kVfioPciReadyFile);
}

void VfioManager::UpdateReadyFile(const VfioPassReport& report) {
  if (options_.validations_dir.empty()) return;
  const std::string ready = ReadyFile();
  std::error_code error;
  if (report.Ready()) {
    if (absl::Status written = common::WriteFileAtomicallyCreatingFolders(ready, "");
        !written.ok()) {
      log_.Error("cannot write the ready file", {{"error", std::string(written.message())}});
    }
  } else if (std::filesystem::remove(ready, error)) {
    log_.Warn("not every device is on vfio: removed the ready file", {{"file", ready}});
  }
}

int VfioManager::Run(const common::StopSignal& stop) {
  VfioPassReport last = BindAll();
  absl::StatusOr<host::UeventMonitor> uevents = host::UeventMonitor::Open();
  if (!uevents.ok()) {
    log_.Warn("no kernel uevents; rescanning periodically instead",
              {{"error", std::string(uevents.status().message())},
               {"period_s", absl::StrCat(options_.resync_period.count() / 1000)}});
  }
  while (!stop.Stopped()) {
    if (uevents.ok()) {
      uevents->WaitForPciEvent(stop, options_.resync_period);
    } else {
      stop.SleepFor(options_.resync_period);
    }
    if (stop.Stopped()) break;
    last = BindAll();
  }
  if (options_.unbind_on_exit) {
    RestoreAll();
  } else if (options_.give_back_at_stop && options_.give_back_at_stop()) {
    log_.Info("the node is moving to the container path: giving the GPUs back");
    RestoreAll();
  }
  return last.AllBound() ? 0 : 1;
}

void VfioManager::RestoreAll() {
  std::vector<host::DeviceBinding> not_restored;  // Kept in the state file for the next run.
  for (auto it = bound_by_us_.rbegin(); it != bound_by_us_.rend(); ++it) {
    absl::Status restored = binder_.Restore(*it);
    if (restored.ok()) {
      log_.Info("restored", {{"bdf", it->address}, {"driver", it->previous_driver}});
    } else if (absl::IsNotFound(restored)) {
      log_.Info("gone; nothing to restore", {{"bdf", it->address}});
    } else {
      log_.Error("restore failed",
                 {{"bdf", it->address}, {"error", std::string(restored.message())}});
      not_restored.insert(not_restored.begin(), *it);
    }
  }
  bound_by_us_ = std::move(not_restored);
  SaveState();
  if (!options_.validations_dir.empty()) {
    std::error_code error;
    std::filesystem::remove(ReadyFile(), error);
  }
}

}  // namespace gpuop::operands
