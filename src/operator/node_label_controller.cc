#include "operator/node_label_controller.h"

#include <algorithm>
#include <tuple>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include <nlohmann/json.hpp>

#include "api/labels.h"
#include "common/clock.h"
#include "kube/json_element.h"
#include "kube/json_fields.h"
#include "operator/policy_status.h"

namespace gpuop::op {
namespace {

// The worker's queue key for "write the ClusterPolicy statuses"; '#' is in no Node name.
constexpr char kStatusKey[] = "#clusterpolicy-status";
constexpr std::chrono::seconds kStatusDelay{1};
// Nodes per list page. A Node's metadata alone is 10-15 KB in a real cluster (a hundred NFD
// labels, and the managedFields of kubelet, NFD and us), and the parser of a page holds about
// 2.5 times the page while it reads it: at 500 per page that was the operator's peak memory
// (20 MB and more, held on by the allocator after). 100 per page costs a few more round trips
// to the apiserver's cache (docs/benchmarks.md).
constexpr int64_t kNodeListPageSize = 100;

}  // namespace

NodeLabelController::NodeLabelController(kube::RestClient& client, kube::EventRecorder& recorder,
                                         common::Logger& log,
                                         const kube::Informer<PolicyView>& policies,
                                         NodeLabelControllerOptions options)
    : client_(client),
      recorder_(recorder),
      log_(log),
      options_(std::move(options)),
      policies_(policies) {
  const auto enqueue = [this](const std::string& key) { queue_.Add(key); };
  // The workers start on the first page of Nodes while the rest is listed; the status waits
  // for every Node of that list (not_yet_reconciled_).
  const auto node_added = [this](const std::string& key) {
    if (!nodes_->HasSynced()) {
      absl::MutexLock lock(&mu_);
      not_yet_reconciled_.insert(key);
    }
    queue_.Add(key);
  };
  nodes_ = std::make_unique<kube::Informer<NodeView>>(
      client_, kube::resources::kNodes, "",
      kube::ListWatchOptions{.metadata_only = true, .page_size = kNodeListPageSize},
      [](kube::JsonElement object) {
        NodeView view;
        kube::JsonElement labels;
        if (kube::ElementAt(object, {"metadata", "labels"}, labels)) {
          const auto pairs = kube::LabelSet::PairsOf(labels);
          view.labels = RoutingLabels(pairs);
          std::string_view os_id, os_version;
          for (const auto& [key, value] : pairs) {
            if (key == kNfdOsIdLabel) os_id = value;
            if (key == kNfdOsVersionLabel) os_version = value;
            if (key == kNfdKernelLabel) view.kernel = std::string(value);
          }
          view.os_tag = OsTagOf(os_id, os_version);
        }
        return view;
      },
      kube::InformerHandlers{.on_add = node_added,
                             .on_update = enqueue,
                             .on_delete = enqueue,
                             .fill_while_listing = true});
  holder_pods_ = std::make_unique<kube::Informer<HolderPodView>>(
      client_, kube::resources::kPods, options_.operator_namespace,
      kube::ListWatchOptions{
          .label_selector = absl::StrCat("app in (", kDriverPodApp, ",", kVfioManagerPodApp, ")")},
      [](kube::JsonElement object) {
        return HolderPodView{
            .node = std::string(kube::StringAt(object, {"spec", "nodeName"})),
            .app = std::string(kube::StringAt(object, {"metadata", "labels", "app"}))};
      },
      kube::InformerHandlers{
          .on_add = [this](const std::string& key) { OnHolderPod(key, false); },
          .on_update = [this](const std::string& key) { OnHolderPod(key, false); },
          .on_delete = [this](const std::string& key) { OnHolderPod(key, true); }});
}

void NodeLabelController::OnHolderPod(const std::string& key, bool deleted) {
  const std::optional<HolderPodView> pod = deleted ? std::nullopt : holder_pods_->Get(key);
  std::string before;
  {
    absl::MutexLock lock(&mu_);
    const auto it = holder_pod_node_.find(key);
    if (it != holder_pod_node_.end()) {
      before = it->second;
      const auto on_node = holder_pods_on_node_.find(before);
      if (on_node != holder_pods_on_node_.end()) {
        on_node->second.erase(key);
        if (on_node->second.empty()) holder_pods_on_node_.erase(on_node);
      }
      holder_pod_node_.erase(it);
    }
    if (pod) {
      holder_pod_node_[key] = pod->node;
      holder_pods_on_node_[pod->node][key] = pod->app;
    }
  }
  if (!before.empty()) queue_.Add(before);
  if (pod && !pod->node.empty() && pod->node != before) queue_.Add(pod->node);
}

GpuHolderPods NodeLabelController::HoldersOn(const std::string& node_name) const {
  GpuHolderPods holders;
  const auto on_node = holder_pods_on_node_.find(node_name);
  if (on_node == holder_pods_on_node_.end()) return holders;
  for (const auto& [key, app] : on_node->second) {
    if (app == kDriverPodApp) holders.driver = true;
    if (app == kVfioManagerPodApp) holders.vfio_manager = true;
  }
  return holders;
}

void NodeLabelController::OnPolicyChanged() {
  EnqueueAllNodes();
  queue_.Add(kStatusKey);
}

NodeLabelController::~NodeLabelController() { Stop(); }

bool NodeLabelController::Start(std::chrono::milliseconds sync_timeout) {
  nodes_->Start();
  holder_pods_->Start();
  const auto not_filled = [&] {
    log_.Error("the node cache did not fill; is the API reachable?",
               {{"timeout_ms", absl::StrCat(sync_timeout.count())}});
    Stop();
    return false;
  };
  // The pods before any node is routed: a hand-over decided without them would let a driver
  // start beside a running VFIO manager after an operator restart. The Nodes come as they are
  // listed (node_added).
  if (!holder_pods_->WaitForSync(sync_timeout)) return not_filled();
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers_.emplace_back([this] { RunWorker(); });
  }
  resync_ = std::thread([this] { RunResync(); });
  if (!nodes_->WaitForSync(sync_timeout)) return not_filled();
  // Written at once when there are no nodes; else after the last one of the list.
  queue_.Add(kStatusKey);
  return true;
}

void NodeLabelController::Stop() {
  nodes_->RequestStop();
  holder_pods_->RequestStop();
  stop_.Stop();
  queue_.ShutDown();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  if (resync_.joinable()) resync_.join();
  nodes_->Stop();
  holder_pods_->Stop();
}

void NodeLabelController::EnqueueAllNodes() {
  for (const std::string& key : nodes_->Keys()) queue_.Add(key);
}

void NodeLabelController::RunResync() {
  while (!stop_.SleepFor(options_.resync_period)) EnqueueAllNodes();
}

void NodeLabelController::RunWorker() {
  while (std::optional<std::string> key = queue_.Get()) {
    const common::Clock& clock = common::SteadyClock::Instance();
    const auto started = clock.Now();
    absl::Status reconciled = *key == kStatusKey ? WriteStatuses() : Reconcile(*key);
    stats_.reconcile_duration.Observe(clock.Now() - started);
    ++stats_.reconciles;
    if (reconciled.ok()) {
      queue_.Forget(*key);
    } else {
      ++stats_.errors;
      log_.Error(*key == kStatusKey ? "cannot write ClusterPolicy status; will retry"
                                    : "cannot label node; will retry",
                 {{"node", *key}, {"error", std::string(reconciled.message())}});
      queue_.AddRateLimited(*key);
    }
    queue_.Done(*key);
  }
}

void NodeLabelController::RefreshStatus() { queue_.AddAfter(kStatusKey, kStatusDelay); }

std::optional<api::ClusterPolicy> NodeLabelController::ActivePolicy() const {
  std::vector<PolicyView> views;
  policies_.ForEach([&](const std::string&, const PolicyView& view) { views.push_back(view); });
  return op::ActivePolicy(views);
}

std::map<std::string, std::string> NodeLabelController::InvalidNodes() const {
  absl::MutexLock lock(&mu_);
  return invalid_nodes_;
}

std::map<std::string, int> NodeLabelController::GpuNodesByWorkload() const {
  absl::MutexLock lock(&mu_);
  return GpuNodesByWorkloadLocked();
}

std::map<std::string, int> NodeLabelController::GpuNodesByWorkloadLocked() const {
  std::map<std::string, int> counts;
  for (const auto& [node, counted] : counted_nodes_) {
    if (counted.workload) ++counts[std::string(api::WorkloadName(*counted.workload))];
  }
  return counts;
}

ContainerNodeFacts NodeLabelController::ContainerFacts() const {
  absl::MutexLock lock(&mu_);
  return ContainerFactsLocked();
}

ContainerNodeFacts NodeLabelController::ContainerFactsLocked() const {
  ContainerNodeFacts facts{
      .driver_os_tag =
          first_with_os_tag_.First() ? counted_nodes_.at(*first_with_os_tag_.First()).os_tag : "",
      .any_container_gpu_node = container_gpu_nodes_ > 0,
      .first_container_node = first_container_node_.First().value_or("")};
  for (const auto& [picks, by_config] :
       {std::pair{&facts.device_plugin_configs, &nodes_by_plugin_config_},
        std::pair{&facts.mig_configs, &nodes_by_mig_config_}}) {
    for (const auto& [config, nodes] : *by_config) {
      (*picks)[config] = {.nodes = static_cast<int>(nodes.size()), .first_node = *nodes.begin()};
    }
  }
  for (const auto& [kernel_and_os, nodes] : container_kernels_) {
    const auto& [kernel, os_tag] = kernel_and_os;
    if (kernel.empty()) {
      facts.container_nodes_without_kernel += nodes;
    } else {
      facts.container_kernels[kernel].insert(os_tag);
    }
  }
  return facts;
}

void NodeLabelController::CountContainerNode(const std::string& node_name, const NodeView& node,
                                             CountedNode& counted) {
  ForgetContainerNode(node_name, counted);
  const auto [entry, inserted] =
      container_kernels_.try_emplace(std::make_pair(node.kernel, node.os_tag), 0);
  ++entry->second;
  counted.kernel = entry;
  const std::string plugin_config(
      node.labels.Get(api::kDevicePluginConfigLabel).value_or(std::string_view()));
  // Only where the MIG manager runs: elsewhere nothing reads the label.
  const std::string mig_config(
      MigCapable(node.labels) ? node.labels.Get(api::kMigConfigLabel).value_or(std::string_view())
                              : std::string_view());
  if (!plugin_config.empty()) nodes_by_plugin_config_[plugin_config].insert(node_name);
  if (!mig_config.empty()) nodes_by_mig_config_[mig_config].insert(node_name);
  if (!plugin_config.empty() || !mig_config.empty()) {
    configs_of_container_node_[node_name] = {plugin_config, mig_config};
  }
}

void NodeLabelController::ForgetContainerNode(const std::string& node_name, CountedNode& counted) {
  if (const auto picked = configs_of_container_node_.find(node_name);
      picked != configs_of_container_node_.end()) {
    for (const auto& [by_config, config] :
         {std::pair{&nodes_by_plugin_config_, &picked->second.first},
          std::pair{&nodes_by_mig_config_, &picked->second.second}}) {
      const auto nodes = by_config->find(*config);
      if (nodes == by_config->end()) continue;
      nodes->second.erase(node_name);
      if (nodes->second.empty()) by_config->erase(nodes);
    }
    configs_of_container_node_.erase(picked);
  }
  if (!counted.kernel) return;
  if (--(*counted.kernel)->second == 0) container_kernels_.erase(*counted.kernel);
  counted.kernel.reset();
}

std::optional<std::string> NodeLabelController::InvalidValueOf(const std::string& node_name) const {
  const auto it = invalid_nodes_.find(node_name);
  return it == invalid_nodes_.end() ? std::optional<std::string>() : it->second;
}

void NodeLabelController::UpdateFirsts(const std::string& node_name) {
  first_with_os_tag_.Update(counted_nodes_, node_name);
  first_container_node_.Update(counted_nodes_, node_name);
}

absl::Status NodeLabelController::Reconcile(const std::string& node_name) {
  // Counted as looked at on the way out, once this node's entries in the status maps are
  // current: marked on the way in, the last node's status pass could run on another worker
  // before its entry was in, and write a status one node short, then the right one again.
  absl::Cleanup looked_at = [&] {
    absl::MutexLock lock(&mu_);
    if (not_yet_reconciled_.erase(node_name) > 0 && not_yet_reconciled_.empty()) {
      queue_.Add(kStatusKey);
    }
  };
  const std::optional<NodeView> node = nodes_->Get(node_name);
  if (!node) {
    bool facts_changed = false;
    {
      absl::MutexLock lock(&mu_);
      const ContainerNodeFacts before = ContainerFactsLocked();
      bool status_news = invalid_nodes_.erase(node_name) > 0;
      held_on_node_.erase(node_name);
      if (const auto counted = counted_nodes_.find(node_name); counted != counted_nodes_.end()) {
        if (counted->second.workload == api::Workload::kContainer) --container_gpu_nodes_;
        if (counted->second.nfd_labelled) --nfd_labelled_nodes_;
        status_news = status_news || counted->second.workload || counted->second.nfd_labelled;
        ForgetContainerNode(node_name, counted->second);
        counted_nodes_.erase(counted);
        UpdateFirsts(node_name);
      }
      if (status_news) queue_.AddAfter(kStatusKey, kStatusDelay);
      facts_changed = before != ContainerFactsLocked();
    }
    if (facts_changed && options_.on_container_facts_changed) {
      options_.on_container_facts_changed();
    }
    return absl::OkStatus();
  }
  // Without a (valid) policy nothing is decided; labels stay as they are, as NVIDIA's operator
  // leaves them. The policy's own status says why.
  const std::optional<api::ClusterPolicy> policy = ActivePolicy();
  if (!policy) return absl::OkStatus();

  GpuHolderPods holders;
  {
    absl::MutexLock lock(&mu_);
    holders = HoldersOn(node_name);
  }
  const NodeRoute route = RouteNode(node->labels, RoutingPolicyOf(*policy), holders);
  std::map<std::string, std::string> newly_held;
  bool newly_invalid = false;
  bool facts_changed = false;
  {
    absl::MutexLock lock(&mu_);
    const ContainerNodeFacts facts_before = ContainerFactsLocked();
    CountedNode& counted = counted_nodes_[node_name];
    // This node's entries before, to tell the status writer only of real news.
    const auto before =
        std::make_tuple(InvalidValueOf(node_name), counted.workload, counted.nfd_labelled);
    if (counted.nfd_labelled != route.nfd_labelled) {
      nfd_labelled_nodes_ += route.nfd_labelled ? 1 : -1;
      counted.nfd_labelled = route.nfd_labelled;
    }
    if (counted.workload == api::Workload::kContainer) --container_gpu_nodes_;
    ForgetContainerNode(node_name, counted);
    counted.workload.reset();
    if (route.workload && route.has_gpu) {
      counted.workload = *route.workload;
      if (*route.workload == api::Workload::kContainer) {
        ++container_gpu_nodes_;
        CountContainerNode(node_name, *node, counted);
      }
    }
    counted.os_tag = route.has_gpu ? node->os_tag : "";
    const auto counted_now = std::make_pair(counted.workload, counted.nfd_labelled);
    if (counted.Empty()) counted_nodes_.erase(node_name);  // `counted` is gone.
    UpdateFirsts(node_name);
    facts_changed = facts_before != ContainerFactsLocked();
    std::map<std::string, std::string>& was_held = held_on_node_[node_name];
    for (const auto& [key, pod] : route.held) {
      if (!was_held.contains(key)) newly_held[key] = pod;
    }
    was_held = route.held;
    if (was_held.empty()) held_on_node_.erase(node_name);
    if (route.workload || !route.has_gpu || route.operands_disabled) {
      invalid_nodes_.erase(node_name);
    } else {
      const auto [it, inserted] =
          invalid_nodes_.insert_or_assign(node_name, route.invalid_workload);
      newly_invalid = inserted;
      (void)it;
    }
    // Status lists invalid nodes and counts workloads and NFD's nodes: only a change of those is
    // news. At most about once a second while thousands of nodes converge.
    if (before !=
        std::make_tuple(InvalidValueOf(node_name), counted_now.first, counted_now.second)) {
      queue_.AddAfter(kStatusKey, kStatusDelay);
    }
  }
  if (facts_changed && options_.on_container_facts_changed) {
    options_.on_container_facts_changed();
  }
  // The Node's reference for its Events, read once for this pass and only if one is recorded.
  std::optional<kube::ObjectReference> node_ref;
  const auto node_reference = [&]() -> const kube::ObjectReference& {
    if (!node_ref)
      node_ref = kube::ObjectReference{"v1", "Node", node_name, "", NodeUid(node_name)};
    return *node_ref;
  };
  if (newly_invalid) {
    const std::string note = absl::StrCat(
        api::kWorkloadConfigLabel, "=\"", route.invalid_workload, "\" is not one of ",
        api::kWorkloadContainer, ", ", api::kWorkloadVmPassthrough, ", ", api::kWorkloadVmVgpu,
        ": the node gets no GPU operands until the label is fixed");
    log_.Warn("invalid workload label", {{"node", node_name}, {"value", route.invalid_workload}});
    if (absl::Status recorded =
            recorder_.Warning(node_reference(), "InvalidWorkloadConfig", "Route", note);
        !recorded.ok()) {
      log_.Error("cannot record an event",
                 {{"node", node_name}, {"error", std::string(recorded.message())}});
    }
  }
  for (const auto& [key, pod] : newly_held) {
    const std::string note =
        absl::StrCat(key, "=", api::kWaitingForGpuHandOver, ": the GPUs are still held by ", pod,
                     " on this node; the label becomes true once that pod is gone");
    log_.Info("GPU hand-over: waiting", {{"node", node_name}, {"label", key}, {"pod", pod}});
    if (absl::Status recorded =
            recorder_.Normal(node_reference(), "WaitingForGpuHandOver", "Route", note);
        !recorded.ok()) {
      log_.Error("cannot record an event",
                 {{"node", node_name}, {"error", std::string(recorded.message())}});
    }
  }
  if (route.changes.empty()) return absl::OkStatus();

  absl::Status patched = client_.MergePatchWithoutReply(kube::resources::kNodes, "", node_name,
                                                        LabelPatch(route.changes));
  if (absl::IsNotFound(patched)) return absl::OkStatus();  // Deleted meanwhile.
  if (!patched.ok()) return patched;
  ++stats_.patches;
  std::string changes;  // "key=value" to set, "key-" to remove, as kubectl label writes them.
  for (const auto& [key, value] : route.changes) {
    absl::StrAppend(&changes, changes.empty() ? "" : " ", key, value ? "=" + *value : "-");
  }
  log_.Info(
      "node labels updated",
      {{"node", node_name},
       {"workload", route.workload ? std::string(api::WorkloadName(*route.workload)) : "none"},
       {"changes", changes}});
  return absl::OkStatus();
}

std::string NodeLabelController::NodeUid(const std::string& node_name) {
  // The metadata alone: a Node's status is most of its 15-20 KB.
  absl::StatusOr<nlohmann::json> node =
      client_.Do({.path_and_query = kube::resources::kNodes.Path("", node_name),
                  .accept = kube::kAcceptMetadata});
  if (!node.ok()) {
    log_.Warn("cannot read the node's uid; its Event will not show in kubectl describe node",
              {{"node", node_name}, {"error", std::string(node.status().message())}});
    return "";
  }
  return kube::StringField(kube::ObjectField(*node, "metadata"), "uid");
}

void NodeLabelController::ReportConfigProblems(const std::vector<PolicyView>& views,
                                               const std::string& active,
                                               const std::vector<ConfigProblem>& problems) {
  if (problems == reported_config_problems_) return;
  const auto view = std::find_if(views.begin(), views.end(),
                                 [&](const PolicyView& v) { return v.name == active; });
  const std::string uid = view != views.end() && view->policy.ok() ? view->policy->uid : "";
  const kube::ObjectReference ref{api::kClusterPolicyApiVersion, api::kClusterPolicyKind, active,
                                  "", uid};
  for (const ConfigProblem& problem : problems) {
    if (std::find(reported_config_problems_.begin(), reported_config_problems_.end(), problem) !=
        reported_config_problems_.end()) {
      continue;  // Told already.
    }
    if (absl::Status recorded =
            recorder_.Warning(ref, problem.reason, "CheckConfig", problem.message);
        !recorded.ok()) {
      log_.Error("cannot record an event",
                 {{"policy", active}, {"error", std::string(recorded.message())}});
    }
  }
  reported_config_problems_ = problems;
}

absl::Status NodeLabelController::WriteStatuses() {
  // Not before the list of Nodes is whole (Start adds this key then), nor before each of them
  // has been looked at (the last one adds it).
  if (!nodes_->HasSynced()) return absl::OkStatus();
  {
    absl::MutexLock lock(&mu_);
    if (!not_yet_reconciled_.empty()) return absl::OkStatus();
  }
  std::vector<PolicyView> views;
  policies_.ForEach([&](const std::string&, const PolicyView& view) { views.push_back(view); });
  const std::optional<std::string> active = ActivePolicyName(views);
  if (!active) return absl::OkStatus();
  PolicyFacts facts{.active_name = *active, .operator_namespace = options_.operator_namespace};
  if (options_.operand_facts) {
    std::optional<OperandFacts> operands = options_.operand_facts();
    if (!operands) return absl::OkStatus();  // RefreshStatus comes once they are known.
    facts.operands = *std::move(operands);
  }
  ReportConfigProblems(views, *active, facts.operands.config_problems);
  {
    absl::MutexLock lock(&mu_);
    facts.invalid_nodes = invalid_nodes_;
    facts.gpu_nodes_by_workload = GpuNodesByWorkloadLocked();
    facts.nodes_with_nfd_labels = nfd_labelled_nodes_;
  }
  // wall-clock: a timestamp written into the status, read by people and other tools.
  const std::string now = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  absl::Status first_error;
  for (const PolicyView& view : views) {
    facts.name = view.name;
    facts.parse_error = view.policy.ok() ? "" : std::string(view.policy.status().message());
    const nlohmann::json status = PolicyStatus(facts, view.status, now);
    if (!StatusDiffers(status, view.status)) continue;
    absl::StatusOr<nlohmann::json> written =
        client_.MergePatch(kClusterPolicies, "", view.name, {{"status", status}}, "status");
    if (written.ok()) {
      ++stats_.status_writes;
      log_.Info("ClusterPolicy status",
                {{"policy", view.name},
                 {"state", status["state"].get<std::string>()},
                 {"reason", status["conditions"][0]["reason"].get<std::string>()}});
    } else if (!absl::IsNotFound(written.status()) && first_error.ok()) {
      first_error = written.status();
    }
  }
  return first_error;
}

}  // namespace gpuop::op
