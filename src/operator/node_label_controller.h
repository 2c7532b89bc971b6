#pragma once

// Keeps the routing labels of every Node (nvidia.com/gpu.present and the
// nvidia.com/gpu.deploy.<operand> labels) as RouteNode says under the active ClusterPolicy.
// Watches Nodes (metadata only) and ClusterPolicies; a few workers patch nodes in parallel (the
// workqueue never hands one key to two workers), each with a JSON merge patch of just the
// labels that differ, so a restart with nothing to change writes nothing. A node whose workload
// label is invalid gets a Warning Event and no operands, and is named in the ClusterPolicy's
// status, which the same worker keeps (policy_status.h). It also watches the driver container's
// and the VFIO manager's pods, to hold one's deploy label while the other still has the GPUs.
//
//   NodeLabelController nodes(client, recorder, log, {});
//   nodes.Start();              // informers, then the worker
//   ...
//   nodes.Stop();

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"

#include "common/duration_histogram.h"
#include "common/logger.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "kube/label_set.h"
#include "kube/rest_client.h"
#include "kube/workqueue.h"
#include "operator/active_policy.h"
#include "operator/container_node_facts.h"
#include "operator/first_picked.h"
#include "operator/node_routing.h"
#include "operator/policy_status.h"

namespace gpuop::op {

struct NodeLabelControllerOptions {
  // Every node is looked at again this often, healing what a lost event would leave.
  std::chrono::milliseconds resync_period = std::chrono::minutes(10);
  // Parallel node writers: an apiserver answers a label patch on a real Node in about 5 ms, and
  // takes its full rate only from many requests in flight; 8 left it idle between them at
  // 5,000 Nodes (docs/benchmarks.md).
  int workers = 16;
  // Written into ClusterPolicy status.namespace.
  std::string operator_namespace;
  // The operands' side of the active policy's status; nullopt until it is known, and status
  // waits for it (a status written without it would only be written again). Unset: no
  // operands are deployed (tests of labelling alone).
  std::function<std::optional<OperandFacts>()> operand_facts;
  // Called (from a worker, no lock held) when ContainerFacts() changed.
  std::function<void()> on_container_facts_changed;
};

// Counters for metrics and tests.
struct NodeLabelStats {
  std::atomic<int64_t> reconciles{0};
  std::atomic<int64_t> patches{0};  // Writes to the API: a quiet restart adds none.
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> status_writes{0};
  common::DurationHistogram reconcile_duration;  // One node, or the status pass.
};

class NodeLabelController {
 public:
  // `policies` is the operator's one ClusterPolicy cache (OperatorControllers owns and starts
  // it, and calls OnPolicyChanged on its events).
  NodeLabelController(kube::RestClient& client, kube::EventRecorder& recorder, common::Logger& log,
                      const kube::Informer<PolicyView>& policies,
                      NodeLabelControllerOptions options);
  ~NodeLabelController();
  NodeLabelController(const NodeLabelController&) = delete;
  NodeLabelController& operator=(const NodeLabelController&) = delete;

  // Starts the node and pod caches and, once the pods have listed, the workers, which take the
  // Nodes as their list comes in; returns once it is whole. False when either did not list
  // within `sync_timeout` (the API is unreachable); the controller is then stopped.
  bool Start(std::chrono::milliseconds sync_timeout = std::chrono::seconds(60));
  // Stops the worker and the informers; idempotent.
  void Stop();

  // Has the ClusterPolicy statuses brought up to date soon (the operand facts changed).
  void RefreshStatus();
  // A ClusterPolicy came, changed or went: every node again, and the statuses.
  void OnPolicyChanged();

  // The active ClusterPolicy, if any and if it parses.
  std::optional<api::ClusterPolicy> ActivePolicy() const;
  // node name -> the invalid workload label value, for the ClusterPolicy's status.
  std::map<std::string, std::string> InvalidNodes() const;
  // Nodes with a GPU by workload name ("vm-passthrough"), for metrics and status.
  std::map<std::string, int> GpuNodesByWorkload() const;
  // The GPU nodes' facts the container path renders from.
  ContainerNodeFacts ContainerFacts() const;
  const NodeLabelStats& Stats() const { return stats_; }

 private:
  // What the node cache keeps of each Node: a few hundred bytes, for fleets of thousands
  // (docs/benchmarks.md). The uid, needed only for an Event, is read when one is recorded.
  struct NodeView {
    kube::LabelSet labels;
    std::string os_tag;  // From NFD's os_release labels; "" without them.
    std::string kernel;  // NFD's kernel-version.full; "" without it.
  };
  // A driver container or VFIO manager pod: where it is, and which of the two.
  struct HolderPodView {
    std::string node;  // "" until scheduled.
    std::string app;
  };
  void OnHolderPod(const std::string& key, bool deleted);
  GpuHolderPods HoldersOn(const std::string& node_name) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ContainerNodeFacts ContainerFactsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::map<std::string, int> GpuNodesByWorkloadLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The container GPU nodes by (kernel, OS tag), "" kernel for those without NFD's label.
  using KernelCounts = std::map<std::pair<std::string, std::string>, int>;
  // What the status and the container path count of a node: one entry for each node that
  // counts toward any of them, rather than a map per fact, since fleets have thousands of nodes
  // (a map entry costs about 100 bytes; docs/benchmarks.md).
  struct CountedNode {
    std::optional<api::Workload> workload;  // A GPU node routed to a workload.
    bool nfd_labelled = false;              // For NFDLabelsMissing.
    std::string os_tag;                     // A GPU node's, from NFD's os_release labels.
    // A container GPU node's entry in container_kernels_.
    std::optional<KernelCounts::iterator> kernel;
    bool Empty() const { return !workload && !nfd_labelled && os_tag.empty() && !kernel; }
  };
  using CountedNodes = std::map<std::string, CountedNode>;
  // A container GPU node counted in (its kernel and OS tag into container_kernels_, the configs
  // its labels pick into nodes_by_*_config_), or taken out.
  void CountContainerNode(const std::string& node_name, const NodeView& node, CountedNode& counted)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ForgetContainerNode(const std::string& node_name, CountedNode& counted)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After node_name's entry changed or was erased.
  void UpdateFirsts(const std::string& node_name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The node's invalid workload label value, if it has one.
  std::optional<std::string> InvalidValueOf(const std::string& node_name) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EnqueueAllNodes();
  void RunWorker();
  void RunResync();
  absl::Status Reconcile(const std::string& node_name);
  // The Node's uid for an Event's involvedObject (kubectl describe matches on it); "" when the
  // Node cannot be read.
  std::string NodeUid(const std::string& node_name);
  // Brings every ClusterPolicy's status up to date (the worker's kStatusKey).
  absl::Status WriteStatuses();
  // An Event on the active policy for each operand config problem not told before.
  void ReportConfigProblems(const std::vector<PolicyView>& views, const std::string& active,
                            const std::vector<ConfigProblem>& problems);

  kube::RestClient& client_;
  kube::EventRecorder& recorder_;
  common::Logger& log_;
  const NodeLabelControllerOptions options_;
  kube::WorkQueue queue_;
  std::unique_ptr<kube::Informer<NodeView>> nodes_;
  // The GPU holders' pods in the operator's namespace, for the hand-over at a flip
  // (node_routing.h).
  std::unique_ptr<kube::Informer<HolderPodView>> holder_pods_;
  const kube::Informer<PolicyView>& policies_;
  std::vector<std::thread> workers_;
  std::thread resync_;
  common::StopSignal stop_;
  NodeLabelStats stats_;

  mutable absl::Mutex mu_;
  std::map<std::string, std::string> invalid_nodes_ ABSL_GUARDED_BY(mu_);
  // The operand config problems an Event was recorded for (the status worker's own).
  std::vector<ConfigProblem> reported_config_problems_;
  CountedNodes counted_nodes_ ABSL_GUARDED_BY(mu_);
  int nfd_labelled_nodes_ ABSL_GUARDED_BY(mu_) = 0;
  int container_gpu_nodes_ ABSL_GUARDED_BY(mu_) = 0;
  KernelCounts container_kernels_ ABSL_GUARDED_BY(mu_);
  // The first GPU node with an OS tag names the driver image's; the container runtime is read
  // from the first container GPU node.
  FirstPicked<CountedNodes> first_with_os_tag_ ABSL_GUARDED_BY(mu_){
      [](const CountedNode& node) { return !node.os_tag.empty(); }};
  FirstPicked<CountedNodes> first_container_node_ ABSL_GUARDED_BY(mu_){
      [](const CountedNode& node) { return node.kernel.has_value(); }};
  // The container GPU nodes by the device plugin config and the MIG layout their labels pick
  // (ContainerNodeFacts), and what each node picks, to take it out again.
  std::map<std::string, std::set<std::string>> nodes_by_plugin_config_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<std::string>> nodes_by_mig_config_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::pair<std::string, std::string>> configs_of_container_node_
      ABSL_GUARDED_BY(mu_);
  // Nodes not yet reconciled since Start. Status waits for them: written from a half-known
  // fleet it would be wrong, and a restart would write it only to write it back.
  std::set<std::string> not_yet_reconciled_ ABSL_GUARDED_BY(mu_);
  // Driver and VFIO manager pods by node (node -> pod key -> app), so that a node's reconcile
  // looks at its own pods only; each pod's node as last seen, to move or drop it (the informer
  // has forgotten a deleted pod by the time its handler runs); and the labels each node has
  // held.
  std::map<std::string, std::map<std::string, std::string>> holder_pods_on_node_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> holder_pod_node_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, std::string>> held_on_node_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gpuop::op
