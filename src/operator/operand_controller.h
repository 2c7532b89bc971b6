#pragma once

// Deploys the operands of the active ClusterPolicy and reports whether they are rolled out.
// One worker, two kinds of pass:
// - apply: render every state (operand_renderer.h), server-side apply (field manager gpuop)
//   each object whose applied-hash differs from what the cluster has, then delete the objects
//   we applied earlier that are no longer wanted (a disabled operand, a removed runtime class).
//   Runs on policy changes, when an owned DaemonSet went missing or was changed by someone
//   else, and every resync period (then applying everything, which heals edits to our objects;
//   the API does not write an object that an apply leaves as it was). Each pass also gives the
//   operator's namespace the Pod Security labels spec.psa.enabled asks for
//   (namespace_security.h).
// - readiness: from the DaemonSet cache only, no API calls; on DaemonSet status changes.
// A restart with nothing to change makes no writes: hashes are read back from the objects.
//
//   OperandController operands(client, log, {.render = {...}, .on_facts_changed = ...});
//   operands.Start();
//   std::optional<OperandFacts> facts = operands.Facts();

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

#include "common/duration_histogram.h"
#include "common/logger.h"
#include "common/stop_signal.h"
#include "kube/informer.h"
#include "kube/rest_client.h"
#include "kube/workqueue.h"
#include "operator/active_policy.h"
#include "operator/checked_configs.h"
#include "operator/container_node_facts.h"
#include "operator/daemonset_readiness.h"
#include "operator/operand_renderer.h"
#include "operator/policy_status.h"

namespace gpuop::op {

struct OperandControllerOptions {
  RenderContext render;  // render.operator_namespace is where namespaced objects go.
  std::chrono::milliseconds resync_period = std::chrono::minutes(10);
  // Called (from the worker) when Facts() changed.
  std::function<void()> on_facts_changed;
  // The GPU nodes' facts the container path renders from (the driver image's OS tag); unset:
  // none known. Read at each apply pass; call OnPolicyChanged when they change.
  std::function<ContainerNodeFacts()> node_facts;
};

struct OperandStats {
  std::atomic<int64_t> apply_passes{0};
  std::atomic<int64_t> applies{0};  // Objects written: a quiet restart adds none.
  std::atomic<int64_t> deletes{0};
  std::atomic<int64_t> errors{0};
  common::DurationHistogram apply_pass_duration;
};

class OperandController {
 public:
  // `policies` is the operator's one ClusterPolicy cache (OperatorControllers owns and starts
  // it, and calls OnPolicyChanged on its events).
  OperandController(kube::RestClient& client, common::Logger& log,
                    const kube::Informer<PolicyView>& policies, OperandControllerOptions options);
  ~OperandController();
  OperandController(const OperandController&) = delete;
  OperandController& operator=(const OperandController&) = delete;

  // Starts the DaemonSet cache and, once it has listed, the worker; false (and stopped) when
  // it did not list within `sync_timeout`.
  bool Start(std::chrono::milliseconds sync_timeout = std::chrono::seconds(60));
  void Stop();
  // A ClusterPolicy came, changed or went: an apply pass.
  void OnPolicyChanged();

  // nullopt until the first apply pass for the active policy's current generation finished.
  std::optional<OperandFacts> Facts() const;
  // States whose objects are applied, by name, with their DaemonSets' readiness folded in:
  // true when rolled out. For metrics.
  std::map<std::string, bool> StatesReady() const;
  const OperandStats& Stats() const { return stats_; }

 private:
  void RunWorker();
  void RunResync();
  // force: apply every object, not only those whose hash differs.
  absl::Status ApplyPass(bool force);
  // Recomputes the facts from the DaemonSet cache; true when an owned DaemonSet is missing or
  // carries a hash other than ours (an apply pass is due).
  bool ReadinessPass();
  absl::StatusOr<bool> ApplyObject(const nlohmann::json& object, bool force);
  absl::Status Prune(const std::set<std::string>& wanted);
  // Whether the CustomResourceDefinition `name` ("plural.group") is installed.
  absl::StatusOr<bool> CrdExists(const char* name);
  std::optional<api::ClusterPolicy> CurrentPolicy() const;
  // The container runtime of `node` (ContainerRuntimeOf its Node's status), read once per node
  // and again on forced passes; the last one known (at first the render context's) when the
  // read fails, is refused, or there is no container node.
  std::string DetectContainerRuntime(const std::string& node, bool force);
  void PublishFacts(std::optional<OperandFacts> facts);

  kube::RestClient& client_;
  common::Logger& log_;
  const OperandControllerOptions options_;
  kube::WorkQueue queue_;
  const kube::Informer<PolicyView>& policies_;
  std::unique_ptr<kube::Informer<DaemonSetView>> daemonsets_;
  // The operator namespace's ConfigMaps' data: the admin's operand configs and their checked
  // copies (checked_configs.h).
  std::unique_ptr<kube::Informer<ConfigData>> configmaps_;
  std::thread worker_;
  std::thread resync_;
  common::StopSignal stop_;
  OperandStats stats_;

  // The worker's own bookkeeping (one thread).
  std::map<std::string, std::string> applied_;  // ManifestKey -> hash known to be in the API
  bool first_pass_done_ = false;
  bool apply_due_ = false;  // An owned DaemonSet is missing or not ours: apply even if unchanged.
  int64_t applied_generation_ = -1;
  std::string applied_policy_uid_;
  ContainerNodeFacts applied_node_facts_;
  CheckedConfigs applied_checked_configs_;  // What the last render handed to the copies.
  std::vector<std::string> notes_;          // OperandFacts::notes of the last apply pass.
  std::string runtime_node_;      // The Node the runtime below was read from; "" for none yet.
  std::string detected_runtime_;  // "" until one was read.
  // DaemonSet name -> (state, hash) of the last apply pass, for readiness.
  std::map<std::string, std::pair<std::string, std::string>> wanted_daemonsets_;
  std::map<std::string, std::string> state_errors_;  // state -> error of the last apply pass
  std::set<std::string> applied_states_;
  // Why the last apply pass could not label the namespace (spec.psa.enabled); empty when it did.
  std::string namespace_error_;

  mutable absl::Mutex mu_;
  std::optional<OperandFacts> facts_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, bool> states_ready_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gpuop::op
