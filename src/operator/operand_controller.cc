#include "operator/operand_controller.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "api/labels.h"
#include "common/clock.h"
#include "kube/api_error.h"
#include "kube/json_fields.h"
#include "operator/checked_configs.h"
#include "operator/embedded_manifests.h"
#include "operator/namespace_security.h"
#include "operator/operand_objects.h"

namespace gpuop::op {
namespace {

using nlohmann::json;

// Worker keys. A forced pass applies every object (resync); a plain one only what differs.
constexpr char kApplyKey[] = "apply";
constexpr char kForcedApplyKey[] = "apply-all";
constexpr char kReadinessKey[] = "readiness";
// After an owned DaemonSet looked wrong: long enough for the cache to catch up with an apply
// of our own that is still on its way back through the watch.
constexpr std::chrono::seconds kRecheckDelay{2};
constexpr char kNfdRulesState[] = "nfd-rules";

std::string ManagedSelector() {
  return absl::StrCat(api::kManagedByLabel, "=", api::kManagedByValue);
}

// Identifies an applied object across apply and list answers (list items carry no kind).
std::string AppliedKey(const kube::Resource& resource, const std::string& ns,
                       const std::string& name) {
  return absl::StrCat(resource.group, "/", resource.plural, "/", ns, "/", name);
}

std::string MetadataString(const json& object, const char* key) {
  const json& metadata = object.value("metadata", json::object());
  return metadata.is_object() ? metadata.value(key, "") : "";
}

std::string AppliedHashOf(const json& object) {
  const json& metadata = object.value("metadata", json::object());
  if (!metadata.is_object() || !metadata.contains("annotations")) return "";
  const json& annotations = metadata["annotations"];
  return annotations.is_object() ? annotations.value(api::kAppliedHashAnnotation, "") : "";
}

std::string StateLabelOf(const json& object) {
  const json& metadata = object.value("metadata", json::object());
  if (!metadata.is_object() || !metadata.contains("labels")) return "";
  const json& labels = metadata["labels"];
  return labels.is_object() ? labels.value(api::kOperandStateLabel, "") : "";
}

}  // namespace

OperandController::OperandController(kube::RestClient& client, common::Logger& log,
                                     const kube::Informer<PolicyView>& policies,
                                     OperandControllerOptions options)
    : client_(client), log_(log), options_(std::move(options)), policies_(policies) {
  const auto readiness = [this](const std::string&) { queue_.Add(kReadinessKey); };
  daemonsets_ = std::make_unique<kube::Informer<DaemonSetView>>(
      client_, kube::resources::kDaemonSets, options_.render.operator_namespace,
      kube::ListWatchOptions{.label_selector = ManagedSelector()}, ProjectDaemonSet,
      kube::InformerHandlers{.on_add = readiness, .on_update = readiness, .on_delete = readiness});
  // The admin's configs for the operands, and the checked copies of them: an edit is a pass.
  const auto config_changed = [this](const std::string& key) {
    const std::optional<api::ClusterPolicy> policy = CurrentPolicy();
    if (policy && IsCheckedConfigSource(*policy, key.substr(key.find('/') + 1))) {
      queue_.Add(kApplyKey);
    }
  };
  configmaps_ = std::make_unique<kube::Informer<ConfigData>>(
      client_, kube::resources::kConfigMaps, options_.render.operator_namespace,
      kube::ListWatchOptions{}, ProjectConfigMapData,
      kube::InformerHandlers{
          .on_add = config_changed, .on_update = config_changed, .on_delete = config_changed});
}

OperandController::~OperandController() { Stop(); }

void OperandController::OnPolicyChanged() { queue_.Add(kApplyKey); }

bool OperandController::Start(std::chrono::milliseconds sync_timeout) {
  daemonsets_->Start();
  configmaps_->Start();
  if (!daemonsets_->WaitForSync(sync_timeout) || !configmaps_->WaitForSync(sync_timeout)) {
    log_.Error("the DaemonSet or ConfigMap cache did not fill; is the API reachable?",
               {{"timeout_ms", absl::StrCat(sync_timeout.count())}});
    Stop();
    return false;
  }
  queue_.Add(kApplyKey);
  worker_ = std::thread([this] { RunWorker(); });
  resync_ = std::thread([this] { RunResync(); });
  return true;
}

void OperandController::Stop() {
  daemonsets_->RequestStop();
  configmaps_->RequestStop();
  stop_.Stop();
  queue_.ShutDown();
  if (worker_.joinable()) worker_.join();
  if (resync_.joinable()) resync_.join();
  daemonsets_->Stop();
  configmaps_->Stop();
}

std::optional<OperandFacts> OperandController::Facts() const {
  absl::MutexLock lock(&mu_);
  return facts_;
}

std::map<std::string, bool> OperandController::StatesReady() const {
  absl::MutexLock lock(&mu_);
  return states_ready_;
}

void OperandController::RunResync() {
  while (!stop_.SleepFor(options_.resync_period)) queue_.Add(kForcedApplyKey);
}

void OperandController::RunWorker() {
  while (std::optional<std::string> key = queue_.Get()) {
    absl::Status result;
    if (*key == kReadinessKey) {
      if (ReadinessPass()) queue_.AddAfter(kApplyKey, kRecheckDelay);
    } else {
      const common::Clock& clock = common::SteadyClock::Instance();
      const auto started = clock.Now();
      result = ApplyPass(*key == kForcedApplyKey);
      stats_.apply_pass_duration.Observe(clock.Now() - started);
    }
    if (result.ok()) {
      queue_.Forget(*key);
    } else {
      ++stats_.errors;
      log_.Error("cannot apply the operands; will retry",
                 {{"error", std::string(result.message())}});
      queue_.AddRateLimited(*key);
    }
    queue_.Done(*key);
  }
}

std::optional<api::ClusterPolicy> OperandController::CurrentPolicy() const {
  std::vector<PolicyView> views;
  policies_.ForEach([&](const std::string&, const PolicyView& view) { views.push_back(view); });
  return ActivePolicy(views);
}

absl::StatusOr<bool> OperandController::CrdExists(const char* name) {
  absl::StatusOr<json> crd = client_.Get(kube::resources::kCustomResourceDefinitions, "", name);
  if (crd.ok()) return true;
  if (absl::IsNotFound(crd.status())) return false;
  return crd.status();
}

absl::StatusOr<bool> OperandController::ApplyObject(const json& object, bool force) {
  absl::StatusOr<kube::Resource> resource = ResourceOf(object);
  if (!resource.ok()) return resource.status();
  const std::string ns = resource->namespaced ? MetadataString(object, "namespace") : "";
  const std::string name = MetadataString(object, "name");
  const std::string key = AppliedKey(*resource, ns, name);
  const std::string hash = AppliedHashOf(object);
  if (!force) {
    if (resource->plural == kube::resources::kDaemonSets.plural) {
      const std::optional<DaemonSetView> cached = daemonsets_->Get(absl::StrCat(ns, "/", name));
      if (cached && cached->applied_hash == hash) return false;
    } else if (const auto known = applied_.find(key); known != applied_.end()) {
      if (known->second == hash) return false;
    } else {
      // Not applied by this process yet: what the cluster has decides (a restart writes
      // nothing when nothing changed).
      absl::StatusOr<json> current = client_.Get(*resource, ns, name);
      if (current.ok() && AppliedHashOf(*current) == hash) {
        applied_[key] = hash;
        return false;
      }
      if (!current.ok() && !absl::IsNotFound(current.status())) return current.status();
    }
  }
  if (resource->plural == kube::resources::kRuntimeClasses.plural && !applied_.contains(key)) {
    // A RuntimeClass's name comes from the ClusterPolicy, so it may be one the admin or another
    // installer made (kata-deploy's, NVIDIA's): a forced apply would take it over, and a prune
    // would later delete it. Only one gpuop labelled is ever applied to.
    absl::StatusOr<json> current = client_.Get(*resource, ns, name);
    if (!current.ok() && !absl::IsNotFound(current.status())) return current.status();
    if (current.ok() &&
        kube::StringField(kube::ObjectField(kube::ObjectField(*current, "metadata"), "labels"),
                          api::kManagedByLabel) != api::kManagedByValue) {
      return absl::FailedPreconditionError(
          absl::StrCat("RuntimeClass ", name, " exists and is not gpuop's (no ",
                       api::kManagedByLabel, "=", api::kManagedByValue,
                       "); it is left as it is. Rename the runtime class in the "
                       "ClusterPolicy, or delete that RuntimeClass"));
    }
  }
  absl::StatusOr<json> written =
      client_.Apply(*resource, ns, object, {.field_manager = "gpuop", .force = true});
  if (!written.ok()) {
    applied_.erase(key);
    return written.status();
  }
  applied_[key] = hash;
  ++stats_.applies;
  log_.Info("applied", {{"object", ManifestKey(object)}, {"state", StateLabelOf(object)}});
  return true;
}

absl::Status OperandController::Prune(const std::set<std::string>& wanted) {
  absl::Status first_error;
  for (const kube::Resource& resource : AppliedKinds()) {
    const std::string ns = resource.namespaced ? options_.render.operator_namespace : "";
    absl::StatusOr<kube::ListPage> listed =
        client_.ListAll(resource, ns, {.label_selector = ManagedSelector()});
    if (!listed.ok()) {
      if (absl::IsNotFound(listed.status())) continue;  // The kind is not installed (NFD).
      if (first_error.ok()) first_error = listed.status();
      continue;
    }
    for (const json& item : listed->items) {
      const std::string name = MetadataString(item, "name");
      const std::string key = AppliedKey(resource, ns, name);
      if (wanted.contains(key)) continue;
      // A state whose render failed keeps what it had: the admin's typo must not take a
      // running operand away.
      if (state_errors_.contains(StateLabelOf(item))) continue;
      const absl::Status deleted = client_.Delete(
          resource, ns, name,
          {.propagation_policy = "Background", .precondition_uid = MetadataString(item, "uid")});
      applied_.erase(key);
      if (deleted.ok()) {
        ++stats_.deletes;
        log_.Info("deleted, no longer wanted",
                  {{"object", absl::StrCat(resource.plural, " ", ns.empty() ? "" : ns + "/", name)},
                   {"state", StateLabelOf(item)}});
      } else if (!absl::IsNotFound(deleted) && !absl::IsFailedPrecondition(deleted) &&
                 first_error.ok()) {
        first_error = deleted;
      }
    }
  }
  return first_error;
}

absl::Status OperandController::ApplyPass(bool force) {
  const std::optional<api::ClusterPolicy> policy = CurrentPolicy();
  if (!policy) {
    // Nothing (usable) rules: leave what exists (Kubernetes' garbage collector removes the
    // objects of a deleted policy through their ownerReferences); nothing to report, and the
    // status says why the policy cannot be used.
    applied_generation_ = -1;
    applied_policy_uid_.clear();
    applied_checked_configs_ = {};
    namespace_error_.clear();
    PublishFacts(OperandFacts{});
    return absl::OkStatus();
  }
  RenderContext context = options_.render;
  const ContainerNodeFacts node_facts =
      options_.node_facts ? options_.node_facts() : ContainerNodeFacts{};
  context.driver_os_tag = node_facts.driver_os_tag;
  context.any_container_gpu_node = node_facts.any_container_gpu_node;
  context.container_kernels = node_facts.container_kernels;
  context.container_nodes_without_kernel = node_facts.container_nodes_without_kernel;
  context.container_runtime = DetectContainerRuntime(node_facts.first_container_node, force);
  const std::string& ns = options_.render.operator_namespace;
  CheckedConfigs checked = CheckOperandConfigs(
      *policy, ns,
      [&](const std::string& name) { return configmaps_->Get(absl::StrCat(ns, "/", name)); },
      node_facts);
  if (!force && first_pass_done_ && !apply_due_ && policy->uid == applied_policy_uid_ &&
      policy->generation == applied_generation_ && node_facts == applied_node_facts_ &&
      checked == applied_checked_configs_) {
    ReadinessPass();  // A status or metadata update of the policy: nothing to render.
    return absl::OkStatus();
  }
  ++stats_.apply_passes;
  applied_node_facts_ = node_facts;
  if (checked.problems != applied_checked_configs_.problems) {
    for (const ConfigProblem& problem : checked.problems) {
      log_.Warn("an operand config failed its check",
                {{"reason", problem.reason}, {"problem", problem.message}});
    }
  }
  context.checked_device_plugin_configs = checked.device_plugin;
  context.checked_mig_config = checked.mig;
  applied_checked_configs_ = std::move(checked);
  std::vector<RenderedState> states = RenderOperands(*policy, context, EmbeddedManifests());

  state_errors_.clear();
  notes_.clear();
  wanted_daemonsets_.clear();
  applied_states_.clear();
  std::set<std::string> wanted;
  absl::Status api_error;
  for (RenderedState& state : states) {
    if (!state.enabled) continue;
    if (state.name == kNfdRulesState && state.error.ok()) {
      absl::StatusOr<bool> crd = CrdExists(kNodeFeatureRuleCrd);
      if (!crd.ok()) {
        state.error = crd.status();
      } else if (!*crd) {
        log_.Info(
            "nfd.nodefeaturerules is on but the NodeFeatureRule CRD is not installed; "
            "no rules applied");
        continue;
      }
    }
    if (!state.error.ok()) {
      state_errors_[state.name] = std::string(state.error.message());
      continue;
    }
    for (const json& object : state.objects) {
      absl::StatusOr<kube::Resource> resource = ResourceOf(object);
      if (!resource.ok()) {
        state_errors_[state.name] = std::string(resource.status().message());
        continue;
      }
      if (resource->plural == kServiceMonitors.plural) {
        // Asked for, but only Prometheus Operator's CRD makes it a kind the API knows.
        absl::StatusOr<bool> crd = CrdExists(kServiceMonitorCrd);
        if (!crd.ok()) {
          state_errors_.try_emplace(state.name, crd.status().message());
          continue;
        }
        if (!*crd) {
          notes_.push_back(absl::StrCat("ServiceMonitor ", MetadataString(object, "name"),
                                        " not applied: the ", kServiceMonitorCrd,
                                        " CRD (Prometheus Operator) is not installed"));
          continue;
        }
      }
      const std::string name = MetadataString(object, "name");
      wanted.insert(AppliedKey(
          *resource, resource->namespaced ? MetadataString(object, "namespace") : "", name));
      if (resource->plural == kube::resources::kDaemonSets.plural) {
        wanted_daemonsets_[name] = {state.name, AppliedHashOf(object)};
      }
      absl::StatusOr<bool> applied = ApplyObject(object, force);
      if (!applied.ok()) {
        const std::string message =
            absl::StrCat("apply ", ManifestKey(object), ": ", applied.status().message());
        state_errors_.try_emplace(state.name, message);
        if (api_error.ok()) api_error = absl::Status(applied.status().code(), message);
      }
    }
    applied_states_.insert(state.name);
  }
  if (absl::Status pruned = Prune(wanted); !pruned.ok() && api_error.ok()) api_error = pruned;
  // After the operands, so that a namespace the operator may not label holds none of them back.
  absl::StatusOr<bool> labelled =
      EnsurePodSecurityLabels(client_, options_.render.operator_namespace, policy->psa_enabled);
  namespace_error_ = labelled.ok() ? "" : std::string(labelled.status().message());
  if (!labelled.ok() && api_error.ok()) api_error = labelled.status();
  if (labelled.ok() && *labelled) {
    log_.Info(
        "labelled the operator's namespace for Pod Security Admission (spec.psa.enabled)",
        {{"namespace", options_.render.operator_namespace}, {"level", kPodSecurityPrivileged}});
  }

  for (const auto& [state, error] : state_errors_) {
    log_.Warn("operand state not applied", {{"state", state}, {"error", error}});
  }
  first_pass_done_ = true;
  apply_due_ = false;
  applied_generation_ = policy->generation;
  applied_policy_uid_ = policy->uid;
  ReadinessPass();
  return api_error;
}

std::string OperandController::DetectContainerRuntime(const std::string& node, bool force) {
  std::string known =
      detected_runtime_.empty() ? options_.render.container_runtime : detected_runtime_;
  if (node.empty() || (node == runtime_node_ && !force)) return known;
  absl::StatusOr<json> object = client_.Get(kube::resources::kNodes, "", node);
  if (!object.ok()) {
    // Tried again on the next pass: runtime_node_ still names another node.
    log_.Warn("could not read the container runtime of a container node; keeping the last known",
              {{"node", node}, {"runtime", known}, {"error", object.status().ToString()}});
    return known;
  }
  const std::string version =
      object->value("/status/nodeInfo/containerRuntimeVersion"_json_pointer, "");
  std::string runtime = ContainerRuntimeOf(version);
  if (runtime.empty()) {
    // NVIDIA's operator falls back to containerd too.
    log_.Warn(
        "the node's container runtime is none the toolkit configures (containerd, cri-o, "
        "docker); configuring containerd",
        {{"node", node}, {"containerRuntimeVersion", version}});
    runtime = "containerd";
  }
  if (runtime != detected_runtime_) {
    log_.Info("container runtime detected", {{"node", node}, {"runtime", runtime}});
  }
  runtime_node_ = node;
  detected_runtime_ = runtime;
  return runtime;
}

bool OperandController::ReadinessPass() {
  if (!first_pass_done_ || applied_policy_uid_.empty()) return false;
  OperandFacts facts;
  std::vector<std::string> errors;
  for (const auto& [state, error] : state_errors_)
    errors.push_back(absl::StrCat(state, ": ", error));
  if (!namespace_error_.empty()) errors.push_back(namespace_error_);
  facts.error = absl::StrJoin(errors, "; ");
  facts.notes = notes_;
  facts.config_problems = applied_checked_configs_.problems;

  bool mismatch = false;
  std::map<std::string, bool> ready;
  for (const std::string& state : applied_states_) ready[state] = !state_errors_.contains(state);
  for (const auto& [name, wanted] : wanted_daemonsets_) {
    const auto& [state, hash] = wanted;
    const std::optional<DaemonSetView> view =
        daemonsets_->Get(absl::StrCat(options_.render.operator_namespace, "/", name));
    std::optional<std::string> reason;
    if (!view) {
      reason = "not created yet";
      mismatch = true;
    } else if (view->applied_hash != hash) {
      reason = "being updated";
      mismatch = true;
    } else {
      reason = NotRolledOutReason(*view);
    }
    if (reason) {
      facts.not_ready.push_back(absl::StrCat(name, ": ", *reason));
      ready[state] = false;
    }
  }
  apply_due_ = mismatch;
  {
    absl::MutexLock lock(&mu_);
    states_ready_ = std::move(ready);
  }
  PublishFacts(std::move(facts));
  return mismatch;
}

void OperandController::PublishFacts(std::optional<OperandFacts> facts) {
  {
    absl::MutexLock lock(&mu_);
    if (facts_ == facts) return;
    facts_ = std::move(facts);
  }
  if (options_.on_facts_changed) options_.on_facts_changed();
}

}  // namespace gpuop::op
