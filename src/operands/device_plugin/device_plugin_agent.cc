#include "operands/device_plugin/device_plugin_agent.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"

#include "api/paths.h"
#include "cdi/spec_dir.h"
#include "common/clock.h"
#include "common/file_events.h"
#include "host/uevent_monitor.h"
#include "operands/device_plugin/cdi_specs.h"

namespace gpuop::operands {
namespace {

// How long one wait lasts at most: a registration that failed is tried again this often.
constexpr std::chrono::milliseconds kRetryPeriod{1000};
constexpr std::chrono::milliseconds kSettleDelay{200};

}  // namespace

DevicePluginAgent::DevicePluginAgent(common::Logger& log, DevicePluginAgentOptions options)
    : log_(log), options_(std::move(options)) {
  if (options_.discovery.alias.empty()) {
    // The host's copy names devices as the admin's tools do; the image's is the fallback.
    absl::StatusOr<host::PciIds> ids = host::PciIds::Load(options_.root, options_.pci_ids_fallback);
    if (ids.ok()) {
      ids_ = std::make_unique<host::PciIds>(*std::move(ids));
    } else {
      log_.Warn("no pci.ids: resources are named by device id",
                {{"error", std::string(ids.status().message())}});
    }
  }
}

DevicePluginAgent::~DevicePluginAgent() {
  for (auto& [name, resource] : resources_) resource.endpoint->Stop();
}

DevicePluginStatus DevicePluginAgent::Status() const {
  absl::MutexLock lock(&mu_);
  DevicePluginStatus status = status_;
  status.allocations = counters_.allocations.load();
  status.allocation_errors = counters_.allocation_errors.load();
  return status;
}

std::string DevicePluginAgent::KubeletIdentity() const {
  struct stat info {};
  const std::string path = absl::StrCat(options_.plugin_dir, "/", kKubeletSocketName);
  if (::stat(path.c_str(), &info) != 0) return "";
  return absl::StrCat(info.st_ino, ":", info.st_ctim.tv_sec, ".", info.st_ctim.tv_nsec);
}

std::string DevicePluginAgent::SocketNameFor(const std::string& resource) const {
  const size_t slash = resource.find('/');
  return absl::StrCat("sandbox-",
                      slash == std::string::npos ? resource : resource.substr(slash + 1), ".sock");
}

void DevicePluginAgent::WatchDirectories() {
  // Each may appear later (/dev/vfio once vfio loads): tried again on every pass.
  // The plugin directory is this process's own mount; /dev is the host's, under the root.
  std::vector<std::string> dirs = {options_.plugin_dir, options_.root.Path("/dev/vfio"),
                                   options_.root.Path("/dev/vfio/devices")};
  if (!options_.validations_dir.empty()) dirs.push_back(options_.validations_dir);
  for (const std::string& dir : dirs) {
    if (!events_->Watching(dir)) events_->Watch(dir);
  }
}

void DevicePluginAgent::Rescan() {
  std::vector<PassthroughDevice> found = KeepVanished(
      DiscoverPassthroughDevices(options_.root, ids_.get(), options_.discovery), devices_);
  // Log what changed, once.
  for (const PassthroughDevice& device : found) {
    const auto before = std::find_if(devices_.begin(), devices_.end(), [&](const auto& d) {
      return d.resource == device.resource && d.id == device.id;
    });
    if (before != devices_.end() && before->healthy == device.healthy) continue;
    if (device.healthy) {
      log_.Info("device healthy",
                {{"resource", device.resource}, {"id", device.id}, {"bdf", device.address}});
    } else {
      log_.Warn("device unhealthy", {{"resource", device.resource},
                                     {"id", device.id},
                                     {"bdf", device.address},
                                     {"reason", device.problem}});
    }
  }
  devices_ = std::move(found);
  WriteCdiSpecs();

  std::map<std::string, std::vector<PassthroughDevice>> by_resource;
  for (const PassthroughDevice& device : devices_) by_resource[device.resource].push_back(device);
  DevicePluginStatus counts;
  for (auto& [name, devices] : by_resource) {
    Resource& resource = resources_[name];
    if (resource.service == nullptr) {
      resource.service = std::make_unique<DevicePluginService>(name, options_.grant, counters_);
      resource.endpoint = std::make_unique<PluginEndpoint>(options_.plugin_dir, SocketNameFor(name),
                                                           *resource.service);
    }
    for (const PassthroughDevice& device : devices) {
      auto& [healthy, unhealthy] = counts.devices[name];
      ++(device.healthy ? healthy : unhealthy);
    }
    resource.service->Update(std::move(devices));
  }
  absl::MutexLock lock(&mu_);
  status_.devices = counts.devices;
  ++status_.rescans;
}

void DevicePluginAgent::WriteCdiSpecs() {
  if (options_.cdi_dir.empty()) return;
  const std::string dir = options_.root.Path(options_.cdi_dir);
  const std::map<std::string, cdi::Spec> specs =
      CdiSpecsFor(devices_, options_.root, options_.grant.dev_root);
  for (const auto& [kind, spec] : specs) {
    absl::StatusOr<bool> written = cdi::WriteSpecIfChanged(dir, spec);
    if (!written.ok()) {
      log_.Error("cannot write the CDI spec",
                 {{"kind", kind}, {"error", std::string(written.status().message())}});
      continue;
    }
    cdi_kinds_.insert(kind);
    if (*written) {
      log_.Info("CDI spec written",
                {{"kind", kind},
                 {"path", absl::StrCat(options_.cdi_dir, "/", cdi::SpecFileName(kind))},
                 {"devices", std::to_string(spec.devices.size())}});
    }
  }
  for (auto it = cdi_kinds_.begin(); it != cdi_kinds_.end();) {
    if (specs.contains(*it)) {
      ++it;
      continue;
    }
    if (absl::Status removed = cdi::RemoveSpec(dir, *it); !removed.ok()) {
      log_.Error("cannot remove the CDI spec",
                 {{"kind", *it}, {"error", std::string(removed.message())}});
      ++it;
      continue;
    }
    log_.Info("CDI spec removed: no devices left", {{"kind", *it}});
    it = cdi_kinds_.erase(it);
  }
}

bool DevicePluginAgent::EnsureRegistered() {
  bool all = true;
  for (auto& [name, resource] : resources_) {
    if (resource.endpoint->Running() && !resource.endpoint->SocketExists()) {
      // Kubelet removed our socket (it does on restart): serve anew, then register again.
      log_.Info("plugin socket gone; serving again", {{"resource", name}});
      resource.endpoint->Stop();
      resource.registered = false;
    }
    if (!resource.endpoint->Running()) {
      if (absl::Status started = resource.endpoint->Start(); !started.ok()) {
        log_.Error("cannot serve the device plugin",
                   {{"resource", name}, {"error", std::string(started.message())}});
        all = false;
        continue;
      }
    }
    if (resource.registered) continue;
    const std::string kubelet = KubeletIdentity();
    const absl::Status registered =
        RegisterWithKubelet(absl::StrCat(options_.plugin_dir, "/", kKubeletSocketName),
                            *resource.endpoint, name, options_.register_timeout);
    if (!registered.ok()) {
      log_.Warn("not registered with kubelet yet; will retry",
                {{"resource", name}, {"error", std::string(registered.message())}});
      all = false;
      continue;
    }
    resource.registered = true;
    resource.kubelet = kubelet;
    log_.Info("registered with kubelet",
              {{"resource", name}, {"endpoint", resource.endpoint->SocketName()}});
    absl::MutexLock lock(&mu_);
    ++status_.registrations;
  }
  absl::MutexLock lock(&mu_);
  status_.registered.clear();
  for (const auto& [name, resource] : resources_) status_.registered[name] = resource.registered;
  return all;
}

void DevicePluginAgent::Run(const common::StopSignal& stop) {
  const common::Clock& clock = common::SteadyClock::Instance();
  TakeOverCdiSpecs();
  absl::StatusOr<std::unique_ptr<common::FileEvents>> events = common::FileEvents::Create();
  if (!events.ok()) {
    log_.Error("cannot watch files; rescanning every second instead",
               {{"error", std::string(events.status().message())}});
  } else {
    events_ = *std::move(events);
  }
  // PCI uevents (bind, unbind, add, remove) where netlink is allowed: they wake the loop.
  std::thread uevents;
  std::atomic<bool> uevent_seen{false};
  absl::StatusOr<host::UeventMonitor> monitor = host::UeventMonitor::Open();
  if (monitor.ok() && events_ != nullptr) {
    uevents = std::thread([&, monitor = std::move(*monitor)]() mutable {
      while (!stop.Stopped()) {
        if (monitor.WaitForPciEvent(stop, std::chrono::seconds(1))) {
          uevent_seen = true;
          events_->Wake();
        }
      }
    });
  }

  const auto wait = [&](std::chrono::milliseconds timeout) {
    if (events_ == nullptr) {
      stop.SleepFor(std::min(timeout, kRetryPeriod));
      return std::vector<std::string>{};
    }
    WatchDirectories();
    // In slices, so that a stop is seen within a quarter second.
    const auto until = clock.Now() + timeout;
    while (!stop.Stopped() && clock.Now() < until && !uevent_seen) {
      std::vector<std::string> changed = events_->Wait(std::chrono::milliseconds(250));
      if (!changed.empty()) return changed;
    }
    return std::vector<std::string>{};
  };

  if (!options_.validations_dir.empty()) {
    const std::string ready = absl::StrCat(options_.validations_dir, "/", api::kVfioPciReadyFile);
    bool said = false;
    while (!stop.Stopped() && !std::filesystem::exists(ready)) {
      if (!said) {
        log_.Info("waiting for the validator", {{"file", ready}});
        said = true;
      }
      {
        absl::MutexLock lock(&mu_);
        status_.waiting_for_vfio = true;
      }
      (void)wait(kRetryPeriod);
    }
    absl::MutexLock lock(&mu_);
    status_.waiting_for_vfio = false;
  }

  auto last_rescan = common::Clock::TimePoint();
  // A second look shortly after an event: the kernel writes a bind's driver link and its
  // device node one after the other, and the first look may fall between them.
  constexpr auto kNever = common::Clock::TimePoint::max();
  auto settle_at = kNever;
  bool rescan = true;
  while (!stop.Stopped()) {
    const auto now = clock.Now();
    if (rescan || now >= settle_at || now - last_rescan >= options_.resync_period) {
      if (rescan) {
        settle_at = now + kSettleDelay;
      } else {
        settle_at = kNever;
      }
      Rescan();
      last_rescan = clock.Now();
      rescan = false;
    }
    const bool all_registered = EnsureRegistered();
    auto timeout = all_registered ? options_.resync_period : kRetryPeriod;
    if (settle_at != kNever) {
      timeout = std::min(
          timeout, std::chrono::duration_cast<std::chrono::milliseconds>(settle_at - clock.Now()));
      timeout = std::max(timeout, std::chrono::milliseconds(1));
    }
    const std::vector<std::string> changed = wait(timeout);
    for (const std::string& path : changed) {
      if (path.ends_with(std::string("/") + kKubeletSocketName)) {
        // A new kubelet has forgotten every plugin; one that registered with it already (the
        // restart also deleted our socket, which woke us first) need not register twice.
        const std::string kubelet = KubeletIdentity();
        for (auto& [name, resource] : resources_) {
          if (resource.registered && resource.kubelet != kubelet) {
            log_.Info("kubelet restarted: registering again", {{"resource", name}});
            resource.registered = false;
          }
        }
      } else if (!path.starts_with(options_.plugin_dir)) {
        rescan = true;  // A node under /dev/vfio came or went.
      }
    }
    if (uevent_seen.exchange(false) || events_ == nullptr) rescan = true;
  }
  if (uevents.joinable()) uevents.join();
  for (auto& [name, resource] : resources_) resource.endpoint->Stop();
}

void DevicePluginAgent::TakeOverCdiSpecs() {
  if (options_.cdi_dir.empty()) return;
  absl::StatusOr<std::vector<std::string>> kinds =
      cdi::KindsWrittenIn(options_.root.Path(options_.cdi_dir));
  if (!kinds.ok()) {
    log_.Warn("cannot look for the CDI specs of an earlier run",
              {{"error", std::string(kinds.status().message())}});
    return;
  }
  for (const std::string& kind : *kinds) {
    if (cdi_kinds_.insert(kind).second) {
      log_.Info("CDI spec of an earlier run taken over", {{"kind", kind}});
    }
  }
}

void DevicePluginAgent::RemoveCdiSpecs() {
  // Kata pods still running here keep the devices they have; a container of theirs that
  // restarts now cannot resolve them, which is what leaving the node means.
  if (options_.cdi_dir.empty()) return;
  const std::string dir = options_.root.Path(options_.cdi_dir);
  for (const std::string& kind : cdi_kinds_) {
    if (absl::Status removed = cdi::RemoveSpec(dir, kind); !removed.ok()) {
      log_.Error("cannot remove the CDI spec",
                 {{"kind", kind}, {"error", std::string(removed.message())}});
    } else {
      log_.Info("CDI spec removed: the plugin leaves the node", {{"kind", kind}});
    }
  }
  cdi_kinds_.clear();
}

}  // namespace gpuop::operands
