#include "operands/cc_manager/cc_manager.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"

#include "api/labels.h"
#include "common/atomic_file.h"
#include "common/clock.h"
#include "host/gpu_cc_mode.h"
#include "host/pci_device.h"
#include "kube/informer.h"
#include "kube/json_element.h"
#include "kube/json_fields.h"
#include "kube/resource.h"
#include "operands/cc_manager/operand_pause.h"

namespace gpuop::operands {
namespace {

using json = nlohmann::json;

bool ReadsEnabled(const host::HostRoot& root, const char* parameter) {
  absl::StatusOr<std::string> value = root.ReadTrimmed(parameter);
  if (!value.ok()) return false;
  const std::string lower = absl::AsciiStrToLower(*value);
  return lower == "y" || lower == "1";
}

// NVIDIA GPUs and NVSwitches of the node, by address.
std::vector<host::PciDevice> NvidiaDevices(const host::HostRoot& root) {
  std::vector<host::PciDevice> devices;
  for (host::PciDevice& device : host::ScanPciDevices(root).devices) {
    if (device.IsNvidiaGpu() || device.IsNvSwitch()) devices.push_back(std::move(device));
  }
  return devices;
}

bool EveryGpuCcCapable(const std::vector<host::PciDevice>& devices) {
  bool any = false;
  for (const host::PciDevice& device : devices) {
    if (!device.IsNvidiaGpu()) continue;
    any = true;
    if (!host::SupportsCcMode(device)) return false;
  }
  return any;
}

}  // namespace

std::string ReadyStateFor(const std::string& mode_state) {
  // "failed", or no state: nothing to be ready for.
  absl::StatusOr<api::CcMode> mode = api::ParseCcMode(mode_state);
  if (!mode.ok()) return "";
  switch (*mode) {
    case api::CcMode::kOn:
    case api::CcMode::kPpcie:
      return "true";
    case api::CcMode::kOff:
      return "false";
    case api::CcMode::kDevtools:
      return "";
  }
  return "";
}

bool HostTeeEnabled(const host::HostRoot& root) {
  return ReadsEnabled(root, "/sys/module/kvm_intel/parameters/tdx") ||
         ReadsEnabled(root, "/sys/module/kvm_amd/parameters/sev_snp");
}

CcManager::CcManager(kube::RestClient& client, kube::EventRecorder& recorder,
                     CcManagerOptions options, common::Logger& log, Observer observer)
    : client_(client),
      recorder_(recorder),
      options_(std::move(options)),
      log_(log),
      observer_(std::move(observer)) {}

const std::optional<kube::ObjectReference>& CcManager::NodeRef() {
  if (!node_) {
    absl::StatusOr<json> node = client_.Get(kube::resources::kNodes, "", options_.node_name);
    if (node.ok()) node_ = kube::ReferenceTo(*node);
  }
  return node_;
}

void CcManager::Warn(const std::string& reason, const std::string& note) {
  log_.Warn(note, {{"reason", reason}, {"node", options_.node_name}});
  if (NodeRef()) (void)recorder_.Warning(*node_, reason, "SwitchCcMode", note);
}

bool CcManager::WriteState(const std::string& state, bool capable) {
  json labels = {{api::kCcCapableLabel, capable ? "true" : "false"}};
  if (!state.empty()) {
    // Together, so no reader sees a new mode with the old readiness.
    labels[api::kCcModeStateLabel] = state;
    labels[api::kCcReadyStateLabel] = ReadyStateFor(state);
  }
  absl::StatusOr<json> patched = client_.MergePatch(kube::resources::kNodes, "", options_.node_name,
                                                    {{"metadata", {{"labels", labels}}}});
  if (!patched.ok()) {
    log_.Error("cannot write the CC state labels; will apply again",
               {{"node", options_.node_name}, {"error", std::string(patched.status().message())}});
    return false;
  }
  return true;
}

std::string CcManager::Desired(const std::optional<std::string>& label) {
  std::string asked = label && !label->empty() ? *label : options_.default_mode;
  const std::string_view off = api::CcModeName(api::CcMode::kOff);
  if (asked != off && !HostTeeEnabled(options_.root)) {
    if (label && !label->empty()) {
      Warn("CcModeNeedsTee",
           absl::StrCat(api::kCcModeLabel, "=", *label,
                        " asks for confidential computing, but the host has no TEE enabled "
                        "(kvm_intel tdx / kvm_amd sev_snp): the GPUs stay off"));
    } else {
      log_.Info("no TEE enabled on the host: the default CC mode is off",
                {{"default", options_.default_mode}});
    }
    return std::string(off);
  }
  return asked;
}

ApplyResult CcManager::Apply(const std::optional<std::string>& label,
                             const common::StopSignal& stop) {
  ApplyResult result;
  // Labels a killed agent, or a Restore that failed, left paused come back first.
  OperandPause pause(client_, options_.node_name, options_.ns, log_);
  if (absl::StatusOr<bool> restored = pause.RestoreLeftover(); !restored.ok()) {
    result.error = absl::StrCat("cannot check for deploy labels a switch left paused: ",
                                restored.status().message());
    log_.Error(result.error);
    result.retry = true;
    if (observer_) observer_(result);
    return result;
  }
  const std::vector<host::PciDevice> devices = NvidiaDevices(options_.root);
  const bool capable = HostTeeEnabled(options_.root) && EveryGpuCcCapable(devices);
  // Before anything is paused or reset: the validator decides by it whether to wait.
  if (!WriteState("", capable)) result.retry = true;
  // After a switch, each device's mode as the switch's own reads left it: not read again.
  std::map<std::string, std::string> known_modes;
  const auto finish = [&](std::string state) {
    result.state = std::move(state);
    if (!WriteState(result.state, capable)) result.retry = true;
    result.device_modes = known_modes;
    for (const host::PciDevice& device : DevicesFor(devices, api::CcMode::kPpcie)) {
      if (result.device_modes.contains(device.address)) continue;
      absl::StatusOr<std::string> mode =
          ReadModeWord(options_.root, device, options_.tools.boot_timeout);
      if (mode.ok()) result.device_modes[device.address] = *mode;
    }
    if (observer_) observer_(result);
    return result;
  };
  result.desired = Desired(label);
  absl::StatusOr<api::CcMode> target = api::ParseCcMode(result.desired);
  if (!target.ok()) {
    result.error = absl::StrCat(api::kCcModeLabel, "=", result.desired, ": ",
                                target.status().message(), "; the GPUs were not touched");
    Warn("InvalidCcMode", result.error);
    return finish(api::kCcModeStateFailed);
  }
  if (std::none_of(devices.begin(), devices.end(),
                   [](const host::PciDevice& d) { return d.IsNvidiaGpu(); })) {
    log_.Warn("no NVIDIA GPU on this node: nothing to switch", {{"node", options_.node_name}});
    return finish("");
  }
  if (std::vector<std::string> unsupported = UnsupportedFor(devices, *target);
      !unsupported.empty()) {
    result.error = absl::StrCat("CC mode ", result.desired,
                                " cannot be applied: ", absl::StrJoin(unsupported, ", "),
                                "; the GPUs were not touched");
    Warn("CcModeUnsupported", result.error);
    return finish(api::kCcModeStateFailed);
  }
  const std::vector<host::PciDevice> targets = DevicesFor(devices, *target);
  const bool already = std::all_of(targets.begin(), targets.end(), [&](const host::PciDevice& d) {
    absl::StatusOr<host::GpuCcState> state =
        host::ReadGpuCcState(options_.root, d, options_.tools.boot_timeout);
    return state.ok() && state->Mode() == *target;
  });
  if (already) {
    log_.Info("the GPUs are in the CC mode asked for", {{"mode", result.desired}});
    return finish(result.desired);
  }

  std::map<std::string, std::string> paused;
  auto waited_until = common::SteadyClock::Instance().Now();
  if (options_.evict_operands) {
    absl::StatusOr<std::map<std::string, std::string>> recorded = pause.Pause();
    if (!recorded.ok()) {
      result.error = absl::StrCat("cannot pause the sandbox operands before the switch: ",
                                  recorded.status().message(), "; the GPUs were not touched");
      Warn("CcModeSwitchFailed", result.error);
      result.retry = true;
      return finish(api::kCcModeStateFailed);
    }
    paused = *std::move(recorded);
    log_.Info("sandbox operands paused for the CC mode switch", {{"mode", result.desired}});
    std::vector<std::string> left = pause.WaitForPodsGone(paused, options_.eviction_timeout, stop);
    waited_until = common::SteadyClock::Instance().Now();
    if (stop.Stopped()) {
      // Asked to stop before any GPU was touched: give the operands back and leave.
      if (absl::Status restored = pause.Restore(paused); !restored.ok()) {
        log_.Error("cannot restore the deploy labels; the next start restores them",
                   {{"error", std::string(restored.message())}});
      }
      result.error = "stopped before the switch; the GPUs were not touched";
      result.retry = true;
      if (observer_) observer_(result);
      return result;
    }
    if (!left.empty()) {
      Warn("OperandsStillRunning",
           absl::StrCat(
               "pods of ", absl::StrJoin(left, ", "), " were still on the node after ",
               std::chrono::duration_cast<std::chrono::seconds>(options_.eviction_timeout).count(),
               " s; switching anyway"));
    }
  }
  result.pods_gone_to_switch = std::chrono::duration_cast<std::chrono::milliseconds>(
      common::SteadyClock::Instance().Now() - waited_until);
  const SwitchReport report = SwitchMode(options_.root, devices, *target, options_.tools);
  for (const DeviceSwitch& device : report.devices) {
    if (device.after != kUnknownMode) known_modes[device.address] = device.after;
  }
  result.switched = report.Switched();
  result.switch_duration = report.duration;
  if (options_.evict_operands) {
    if (absl::Status restored = pause.Restore(paused); !restored.ok()) {
      // The annotation still holds them: the next apply (a retry) restores them.
      Warn("OperandsNotRestored",
           absl::StrCat("cannot restore the sandbox operands' labels: ", restored.message()));
      result.retry = true;
    }
  }
  if (!report.Ok()) {
    result.error =
        absl::StrCat("switching to CC mode ", result.desired, " failed: ", report.FirstError());
    Warn("CcModeSwitchFailed", result.error);
    return finish(api::kCcModeStateFailed);
  }
  log_.Info("CC mode switched", {{"mode", result.desired},
                                 {"devices", std::to_string(report.devices.size())},
                                 {"duration_ms", std::to_string(report.duration.count())}});
  if (NodeRef()) {
    (void)recorder_.Normal(*node_, "CcModeSwitched", "SwitchCcMode",
                           absl::StrCat("GPUs switched to CC mode ", result.desired, " in ",
                                        report.duration.count(), " ms"));
  }
  return finish(result.desired);
}

int CcManager::Run(const common::StopSignal& stop) {
  // A ready file from an earlier run (killed, so its preStop never ran) must not let the
  // validator through before this run has applied the mode.
  if (!options_.ready_file.empty()) {
    std::error_code ignored;
    std::filesystem::remove(options_.ready_file, ignored);
  }
  struct NodeView {
    std::optional<std::string> cc_mode;
  };
  absl::Mutex mu;
  bool changed = false;
  const auto wake = [&](const std::string&) {
    absl::MutexLock lock(&mu);
    changed = true;
  };
  kube::Informer<NodeView> node(
      client_, kube::resources::kNodes, "",
      {.field_selector = "metadata.name=" + options_.node_name, .metadata_only = true},
      [](kube::JsonElement object) {
        NodeView view;
        kube::JsonElement value;
        if (kube::ElementAt(object, {"metadata", "labels", api::kCcModeLabel}, value) &&
            value.is_string()) {
          view.cc_mode = std::string(value.get_string().value());
        }
        return view;
      },
      {.on_add = wake, .on_update = wake, .on_delete = wake});
  node.Start();
  while (!node.WaitForSync(std::chrono::seconds(1))) {
    if (stop.Stopped()) return 0;
  }
  bool first = true;
  std::optional<std::string> applied;
  // An apply the API let down (a pause, restore or state write that failed) is tried again,
  // waiting longer each time; a switch the hardware refused waits for the label to change.
  std::chrono::seconds backoff{0};
  auto retry_at = std::chrono::steady_clock::time_point::max();
  while (!stop.Stopped()) {
    const std::optional<NodeView> view = node.Get(options_.node_name);
    const std::optional<std::string> label = view ? view->cc_mode : std::nullopt;
    if (first || label != applied || common::SteadyClock::Instance().Now() >= retry_at) {
      log_.Info("applying the CC mode", {{"label", label.value_or("(none)")}});
      const ApplyResult result = Apply(label, stop);
      applied = label;
      if (result.retry) {
        backoff = std::min<std::chrono::seconds>(
            std::chrono::minutes(5), backoff.count() == 0 ? std::chrono::seconds(5) : 2 * backoff);
        retry_at = common::SteadyClock::Instance().Now() + backoff;
        log_.Warn("will apply again", {{"in_s", std::to_string(backoff.count())}});
      } else {
        backoff = std::chrono::seconds(0);
        retry_at = std::chrono::steady_clock::time_point::max();
      }
      if (first && !options_.ready_file.empty()) {
        if (absl::Status written =
                common::WriteFileAtomicallyCreatingFolders(options_.ready_file, "");
            !written.ok()) {
          log_.Error("cannot write the ready file", {{"error", std::string(written.message())}});
        }
      }
      first = false;
      continue;  // The label may have changed again while the switch ran.
    }
    absl::MutexLock lock(&mu);
    mu.AwaitWithTimeout(absl::Condition(&changed), absl::Seconds(1));
    changed = false;
  }
  // Stopping takes the proof back: the validator must not let agents through on the word of a
  // CC manager that is no longer there to keep the mode.
  if (!options_.ready_file.empty()) {
    std::error_code ignored;
    std::filesystem::remove(options_.ready_file, ignored);
  }
  return 0;
}

int CcManager::RunOnce(const common::StopSignal& stop) {
  absl::StatusOr<kube::json> node = client_.Get(kube::resources::kNodes, "", options_.node_name);
  if (!node.ok()) {
    log_.Error("cannot read this node's nvidia.com/cc.mode; nothing changed",
               {{"node", options_.node_name}, {"error", std::string(node.status().message())}});
    return 1;
  }
  std::optional<std::string> label;
  const kube::json& labels = kube::ObjectField(kube::ObjectField(*node, "metadata"), "labels");
  if (labels.contains(api::kCcModeLabel) && labels[api::kCcModeLabel].is_string()) {
    label = labels[api::kCcModeLabel].get<std::string>();
  }
  const ApplyResult result = Apply(label, stop);
  return result.state == api::kCcModeStateFailed || !result.error.empty() ? 1 : 0;
}

}  // namespace gpuop::operands
