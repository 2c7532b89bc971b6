#include "operands/vfio_manager/vfio_manager.h"

#include <filesystem>

#include "absl/strings/str_cat.h"

#include "api/paths.h"
#include "common/atomic_file.h"
#include "host/uevent_monitor.h"

namespace gpuop::operands {

bool VfioPassReport::AllBound() const {
  if (!scan_problems.empty()) return false;
  for (const host::DeviceBinding& binding : bindings) {
    if (binding.outcome == host::DeviceBinding::Outcome::kFailed) return false;
  }
  return true;
}

VfioManager::VfioManager(const host::HostRoot& root, host::Kernel& kernel,
                         VfioManagerOptions options, common::Logger& log)
    : root_(root), binder_(root, kernel, options.binder), options_(std::move(options)), log_(log) {}

VfioPassReport VfioManager::BindAll() {
  VfioPassReport report;
  host::PciScan scan = host::ScanPciDevices(root_);
  for (const absl::Status& problem : scan.problems) {
    log_.Error("cannot read a PCI device", {{"error", std::string(problem.message())}});
  }
  report.scan_problems = std::move(scan.problems);
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
  UpdateReadyFile(report);
  return report;
}

std::string VfioManager::ReadyFile() const {
  return absl::StrCat(options_.validations_dir, "/", api::kVfioPciReadyFile);
}

void VfioManager::UpdateReadyFile(const VfioPassReport& report) {
  if (options_.validations_dir.empty()) return;
  const std::string ready = ReadyFile();
  std::error_code error;
  if (report.AllBound() && report.selected > 0) {
    std::filesystem::create_directories(options_.validations_dir, error);
    if (absl::Status written = common::WriteFileAtomically(ready, ""); !written.ok()) {
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
  if (options_.unbind_on_exit) RestoreAll();
  return last.AllBound() ? 0 : 1;
}

void VfioManager::RestoreAll() {
  for (auto it = bound_by_us_.rbegin(); it != bound_by_us_.rend(); ++it) {
    if (absl::Status restored = binder_.Restore(*it); !restored.ok()) {
      log_.Error("restore failed",
                 {{"bdf", it->address}, {"error", std::string(restored.message())}});
    } else {
      log_.Info("restored", {{"bdf", it->address}, {"driver", it->previous_driver}});
    }
  }
  bound_by_us_.clear();
  if (!options_.validations_dir.empty()) {
    std::error_code error;
    std::filesystem::remove(ReadyFile(), error);
  }
}

}  // namespace gpuop::operands
