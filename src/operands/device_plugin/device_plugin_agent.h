#pragma once

// `gpuop device-plugin`'s loop: waits for the validator's vfio-pci-ready file, then keeps one
// PluginEndpoint per resource serving and registered with kubelet, and the devices they
// advertise current. Event-driven (file_events.h): a group node or vfio character device
// appearing or vanishing under /dev/vfio changes a device's health at once; kubelet.sock being
// created (a kubelet restart) or our socket being deleted makes it serve and register again. A
// PCI uevent (when netlink is allowed) or the resync period triggers a rescan too. Kubelet not
// being up yet is waited out, never a crash.
//
//   DevicePluginAgent agent(log, options);
//   agent.Run(stop);  // until stop

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

#include "api/paths.h"
#include "common/file_events.h"
#include "common/logger.h"
#include "common/stop_signal.h"
#include "host/host_root.h"
#include "host/pci_ids.h"
#include "operands/device_plugin/device_plugin_service.h"
#include "operands/device_plugin/passthrough_devices.h"
#include "operands/device_plugin/plugin_endpoint.h"

namespace gpuop::operands {

struct DevicePluginAgentOptions {
  host::HostRoot root;
  std::string plugin_dir = "/var/lib/kubelet/device-plugins";
  // Where vfio-pci-ready appears; empty: do not wait for it.
  std::string validations_dir;
  DiscoveryOptions discovery;
  GrantOptions grant;
  // Host directory for the CDI specs (cdi_specs.h), under `root`; empty: write none.
  std::string cdi_dir = api::kCdiSpecDir;
  // A pci.ids in this process's own file system, for hosts without one (the image's).
  std::string pci_ids_fallback;
  std::chrono::milliseconds resync_period = std::chrono::seconds(30);
  std::chrono::milliseconds register_timeout = std::chrono::seconds(5);
};

struct DevicePluginStatus {
  bool waiting_for_vfio = false;
  // resource -> (healthy, unhealthy) device counts.
  std::map<std::string, std::pair<int, int>> devices;
  std::map<std::string, bool> registered;  // resource -> registered with the running kubelet
  int64_t registrations = 0;
  int64_t rescans = 0;
  int64_t allocations = 0;
  int64_t allocation_errors = 0;
};

class DevicePluginAgent {
 public:
  DevicePluginAgent(common::Logger& log, DevicePluginAgentOptions options);
  ~DevicePluginAgent();

  // Serves until `stop`, then stops every endpoint (removing its socket). The CDI specs stay:
  // a container that restarts inside a running Kata pod resolves its devices through them, also
  // while no plugin runs (a rollout, a crash, a CC mode switch). Specs an earlier run left are
  // taken over at the start, so one whose devices went meanwhile goes at the first scan.
  void Run(const common::StopSignal& stop);
  // For a plugin taken off its node for good (helm uninstall, a workload change): removes every
  // CDI spec this agent wrote or took over, so no CDI device names GPUs nobody advertises.
  void RemoveCdiSpecs();
  DevicePluginStatus Status() const;

 private:
  struct Resource {
    std::unique_ptr<DevicePluginService> service;
    std::unique_ptr<PluginEndpoint> endpoint;
    bool registered = false;
    std::string kubelet;  // KubeletIdentity() when it registered.
  };
  // kubelet.sock's inode and change time: a new value is a new kubelet.
  std::string KubeletIdentity() const;
  // Rediscovers and hands each service its devices; starts endpoints for new resources.
  void Rescan();
  // Serves and registers what is not; true when everything is registered.
  bool EnsureRegistered();
  void WatchDirectories();
  // Brings /var/run/cdi in line with devices_: one spec per resource, none for one that left.
  void WriteCdiSpecs();
  // Counts the specs an earlier run wrote as this one's, to be kept current or removed.
  void TakeOverCdiSpecs();
  std::string SocketNameFor(const std::string& resource) const;

  common::Logger& log_;
  const DevicePluginAgentOptions options_;
  std::unique_ptr<common::FileEvents> events_;
  std::unique_ptr<host::PciIds> ids_;
  std::vector<PassthroughDevice> devices_;
  std::set<std::string> cdi_kinds_;  // Resources whose spec we wrote or took over.
  DevicePluginCounters counters_;    // Every service's (so declared before them), for Status().
  std::map<std::string, Resource> resources_;

  mutable absl::Mutex mu_;
  DevicePluginStatus status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gpuop::operands
