#pragma once

// `gpuop cc-manager`'s work on one node: keep the GPUs in the confidential-computing mode the
// node asks for, and say on the Node what they are in, with the labels and values of NVIDIA
// k8s-cc-manager v1.0.0 (main.py).
//   - Desired mode: label nvidia.com/cc.mode, else the default (DEFAULT_CC_MODE); "off" when
//     the host has no TEE enabled (kvm_intel tdx, kvm_amd sev_snp), whatever was asked, with a
//     Warning Event when a label asked for more.
//   - An invalid value, or a GPU that cannot take the mode: state "failed" and a Warning Event
//     that says why (the valid values, the GPU); the GPUs are not touched. No crash loop.
//   - Already in the mode (our own BAR0 read): state written, nothing reset.
//   - Else: pause the sandbox operands (operand_pause.h), wait for their pods to leave, switch
//     every device (cc_mode_switcher.h), restore the labels, then write the state.
//   - nvidia.com/cc.mode.state and nvidia.com/cc.ready.state go out in one patch (on -> true,
//     ppcie -> true, off -> false, devtools and failed -> ""), with nvidia.com/cc.capable =
//     TEE enabled and every NVIDIA GPU CC-capable, which nothing upstream sets any more.
// Run() reacts to the label through a watch on this Node only (field selector).

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "api/cc_mode.h"
#include "common/logger.h"
#include "common/stop_signal.h"
#include "host/host_root.h"
#include "kube/event_recorder.h"
#include "kube/rest_client.h"
#include "operands/cc_manager/cc_mode_switcher.h"

namespace gpuop::operands {

// The nvidia.com/cc.ready.state value that goes with a nvidia.com/cc.mode.state value.
std::string ReadyStateFor(const std::string& mode_state);

// Whether the host has a TEE enabled for guests: kvm_intel's tdx or kvm_amd's sev_snp reads
// "Y" or "1".
bool HostTeeEnabled(const host::HostRoot& root);

struct CcManagerOptions {
  host::HostRoot root;
  std::string node_name;
  std::string ns;  // Where the sandbox operands' pods run (the agent's own namespace).
  std::string default_mode = std::string(api::CcModeName(api::CcMode::kOn));
  bool evict_operands = true;
  GpuAdminTools tools;
  std::chrono::milliseconds eviction_timeout = std::chrono::minutes(5);
  std::string ready_file;  // Written after the first apply; empty: none.
};

struct ApplyResult {
  std::string desired;    // The mode asked for, after the default and the TEE check.
  std::string state;      // What went into nvidia.com/cc.mode.state ("" when none).
  std::string error;      // Why it failed, as the Event says it.
  bool switched = false;  // Some device was reset.
  std::chrono::milliseconds switch_duration{0};
  std::chrono::milliseconds pods_gone_to_switch{0};  // Pause wait end to the first reset.
  std::map<std::string, std::string> device_modes;   // address -> mode read at the end
  bool retry = false;  // The API failed us (not the hardware): worth trying again soon.
};

class CcManager {
 public:
  // Called after each apply (metrics); may be empty.
  using Observer = std::function<void(const ApplyResult&)>;

  CcManager(kube::RestClient& client, kube::EventRecorder& recorder, CcManagerOptions options,
            common::Logger& log, Observer observer = nullptr);

  // One apply for the label's value (nullopt: no label).
  // `stop` ends a wait for the operands' pods (their labels are restored, no GPU touched); a
  // switch under way is let finish, so that no GPU is left half-reset.
  ApplyResult Apply(const std::optional<std::string>& label, const common::StopSignal& stop);

  // Restores labels a killed agent left paused, applies once, writes the ready file, then
  // applies again whenever the label changes, until `stop`. 0 on a clean stop.
  int Run(const common::StopSignal& stop);
  // `cc-manager --once`: reads the node's label and applies it once. 0 when the state is not
  // failed; 1 also when the node cannot be read (nothing is applied then: the default might not
  // be what the label asks).
  int RunOnce(const common::StopSignal& stop);

 private:
  std::string Desired(const std::optional<std::string>& label);
  const std::optional<kube::ObjectReference>& NodeRef();    // Looked up once, for Events.
  bool WriteState(const std::string& state, bool capable);  // False when the patch failed.
  void Warn(const std::string& reason, const std::string& note);

  kube::RestClient& client_;
  kube::EventRecorder& recorder_;
  const CcManagerOptions options_;
  common::Logger& log_;
  Observer observer_;
  std::optional<kube::ObjectReference> node_;
};

}  // namespace gpuop::operands
