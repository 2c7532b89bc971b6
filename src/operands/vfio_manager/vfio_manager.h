#pragma once

// The VFIO manager node agent: keeps every selected GPU (and its IOMMU-group companions) on a
// vfio driver. It binds at start, again whenever the kernel announces a PCI change (hot-add),
// and writes the vfio-pci-ready file while every GPU is bound. It never unbinds on its own: a
// restart of the agent must not take GPUs from running VMs. With unbind_on_exit it restores
// the drivers it changed when it stops.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/logger.h"
#include "common/stop_signal.h"
#include "host/host_root.h"
#include "host/kernel.h"
#include "host/vfio_binder.h"

namespace gpuop::operands {

struct VfioManagerOptions {
  host::TargetSelection selection;
  host::BinderOptions binder;
  // Where vfio-pci-ready goes (a path of this process, not under the host root: pods mount
  // /run/nvidia/validations itself). Empty: no ready file.
  std::string validations_dir;
  bool unbind_on_exit = false;
  // Remembers the drivers this agent took devices from, across restarts (previous_drivers.h).
  // Empty: kept in memory only.
  std::string state_file;
  // Rescan this often even without uevents (they can be lost, or unavailable in a pod).
  std::chrono::milliseconds resync_period = std::chrono::seconds(60);
  // Asked as the agent stops, when unbind_on_exit is off: true (the node is moving to the
  // container path, where NVIDIA's driver takes the GPUs) gives the devices back as
  // unbind_on_exit does. Unset, or false: they stay on vfio (a restart, a rollout, helm
  // uninstall), so running VMs keep their GPUs.
  std::function<bool()> give_back_at_stop;
};

struct VfioPassReport;
// Called after every pass (metrics, readiness, Events on the node).
using VfioPassObserver = std::function<void(const VfioPassReport&)>;

struct VfioPassReport {
  std::vector<host::DeviceBinding> bindings;
  std::vector<absl::Status> scan_problems;
  int selected = 0;  // GPUs (or devices) selected, companions not counted.
  bool AllBound() const;
  // AllBound with at least one device: what vfio-pci-ready stands for.
  bool Ready() const { return AllBound() && selected > 0; }
  // For /readyz: why not Ready(), in a line.
  std::string NotReadyReason() const;
};

class VfioManager {
 public:
  // Reads the state file: devices an earlier run bound and that are still on vfio count as
  // bound by this one.
  VfioManager(const host::HostRoot& root, host::Kernel& kernel, VfioManagerOptions options,
              common::Logger& log);

  void AddObserver(VfioPassObserver observer) { observers_.push_back(std::move(observer)); }

  // One pass: scan, bind what is not bound, log each device, update the ready file.
  VfioPassReport BindAll();

  // BindAll now, then after each PCI uevent or resync period, until `stop`; then restores
  // drivers when unbind_on_exit. Returns 0, or 1 when the last pass left a device unbound.
  int Run(const common::StopSignal& stop);

  // Puts back the previous drivers of every device this process bound.
  void RestoreAll();

 private:
  std::string ReadyFile() const;
  void UpdateReadyFile(const VfioPassReport& report);
  void LoadState();
  void SaveState();

  const host::HostRoot& root_;
  host::VfioBinder binder_;
  const VfioManagerOptions options_;
  common::Logger& log_;
  std::vector<host::DeviceBinding> bound_by_us_;
  std::vector<VfioPassObserver> observers_;
};

}  // namespace gpuop::operands
