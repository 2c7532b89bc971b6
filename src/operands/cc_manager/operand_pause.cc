#include "operands/cc_manager/operand_pause.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"

#include "api/labels.h"
#include "api/paused_operands.h"
#include "common/clock.h"
#include "kube/api_error.h"
#include "kube/informer.h"
#include "kube/json_element.h"
#include "kube/resource.h"

namespace gpuop::operands {
namespace {

using json = nlohmann::json;

absl::StatusOr<json> GetNode(kube::RestClient& client, const std::string& name) {
  return client.Get(kube::resources::kNodes, "", name);
}

std::map<std::string, std::string> DeployLabels(const json& node) {
  std::map<std::string, std::string> values;
  const json labels = node["metadata"].value("labels", json::object());
  for (const api::PausedOperand& operand : api::PausedOperands()) {
    if (labels.contains(operand.label) && labels[operand.label].is_string()) {
      values[operand.label] = labels[operand.label].get<std::string>();
    }
  }
  return values;
}

}  // namespace

OperandPause::OperandPause(kube::RestClient& client, std::string node_name, std::string ns,
                           common::Logger& log)
    : client_(client), node_name_(std::move(node_name)), ns_(std::move(ns)), log_(log) {}

absl::StatusOr<std::map<std::string, std::string>> OperandPause::Pause() {
  // The Node changes under us (the operator's labeller, kubelet's status, an admin): a
  // conflict means read again and pause what is there now.
  absl::Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    absl::StatusOr<std::map<std::string, std::string>> paused = PauseOnce();
    if (paused.ok() || !kube::IsConflict(paused.status())) return paused;
    last = paused.status();
  }
  return last;
}

absl::StatusOr<std::map<std::string, std::string>> OperandPause::PauseOnce() {
  absl::StatusOr<json> node = GetNode(client_, node_name_);
  if (!node.ok()) return node.status();
  const std::map<std::string, std::string> recorded = DeployLabels(*node);
  json labels = json::object();
  for (const auto& [label, value] : recorded) labels[label] = api::PausedValueOf(value);
  // The record goes out with the pause, so no crash can leave labels paused without it.
  // resourceVersion makes the patch fail, rather than overwrite, if the labels just changed.
  const json patch = {{"metadata",
                       {{"resourceVersion", (*node)["metadata"].value("resourceVersion", "")},
                        {"labels", labels},
                        {"annotations", {{api::kPausedLabelsAnnotation, json(recorded).dump()}}}}}};
  absl::StatusOr<json> patched = client_.MergePatch(kube::resources::kNodes, "", node_name_, patch);
  if (!patched.ok()) return patched.status();
  return recorded;
}

std::vector<std::string> OperandPause::WaitForPodsGone(
    const std::map<std::string, std::string>& recorded, std::chrono::milliseconds timeout,
    const common::StopSignal& stop) {
  std::vector<std::string> apps;
  for (const api::PausedOperand& operand : api::PausedOperands()) {
    const auto it = recorded.find(operand.label);
    if (it != recorded.end() && api::PausedValueOf(it->second) != it->second) {
      apps.push_back(operand.app);
    }
  }
  if (apps.empty()) return {};
  // Lives on the heap for the handlers: the informer outlives this call (see pods_).
  struct Wakeup {
    absl::Mutex mu;
    bool changed_since = false;
  };
  auto wakeup = std::make_shared<Wakeup>();
  const auto changed = [wakeup](const std::string&) {
    absl::MutexLock lock(&wakeup->mu);
    wakeup->changed_since = true;
  };
  pods_ = std::make_unique<kube::Informer<PodApp>>(
      client_, kube::resources::kPods, ns_,
      kube::ListWatchOptions{
          .label_selector = absl::StrCat("app in (", absl::StrJoin(apps, ","), ")"),
          .field_selector = "spec.nodeName=" + node_name_,
          .metadata_only = true},
      [](kube::JsonElement pod) {
        return PodApp{std::string(kube::StringAt(pod, {"metadata", "labels", "app"}))};
      },
      kube::InformerHandlers{.on_add = changed, .on_update = changed, .on_delete = changed});
  kube::Informer<PodApp>& pods = *pods_;
  pods.Start();
  const auto until = common::SteadyClock::Instance().Now() + timeout;
  while (common::SteadyClock::Instance().Now() < until && !stop.Stopped()) {
    if (pods.HasSynced() && pods.Size() == 0) return {};
    // Woken by the watch as soon as something changes, else every 200 ms for the stop signal.
    absl::MutexLock lock(&wakeup->mu);
    wakeup->mu.AwaitWithTimeout(absl::Condition(&wakeup->changed_since), absl::Milliseconds(200));
    wakeup->changed_since = false;
  }
  std::vector<std::string> left;
  pods.ForEach([&](const std::string&, const PodApp& pod) { left.push_back(pod.app); });
  if (!pods.HasSynced()) left.push_back("(pods could not be listed)");
  return left;
}

absl::Status OperandPause::Restore(const std::map<std::string, std::string>& recorded) {
  pods_.reset();  // The switch is over: the watch may take its second to stop now.
  json labels = json::object();
  for (const auto& [label, value] : recorded) labels[label] = api::UnpausedValue(value);
  const json patch = {
      {"metadata",
       {{"labels", labels}, {"annotations", {{api::kPausedLabelsAnnotation, nullptr}}}}}};
  absl::StatusOr<json> patched = client_.MergePatch(kube::resources::kNodes, "", node_name_, patch);
  return patched.ok() ? absl::OkStatus() : patched.status();
}

absl::StatusOr<bool> OperandPause::RestoreLeftover() {
  absl::StatusOr<json> node = GetNode(client_, node_name_);
  if (!node.ok()) return node.status();
  const json annotations = (*node)["metadata"].value("annotations", json::object());
  if (!annotations.contains(api::kPausedLabelsAnnotation)) return false;
  const json& text = annotations[api::kPausedLabelsAnnotation];
  const json recorded =
      text.is_string() ? json::parse(text.get<std::string>(), nullptr, /*allow_exceptions=*/false)
                       : json();
  std::map<std::string, std::string> values;
  if (recorded.is_object()) {
    // Only the labels a pause takes: the annotation is on the Node, where whoever may write
    // the Node's annotations could otherwise have this agent set any label at all.
    for (const api::PausedOperand& operand : api::PausedOperands()) {
      if (recorded.contains(operand.label) && recorded[operand.label].is_string()) {
        values[operand.label] = recorded[operand.label].get<std::string>();
      }
    }
  } else {
    log_.Warn("the paused-labels annotation is not a JSON object; unpausing what is paused",
              {{"annotation", api::kPausedLabelsAnnotation}});
    // Whatever is paused now is unpaused, which is what the record would have said.
    values = DeployLabels(*node);
  }
  if (absl::Status restored = Restore(values); !restored.ok()) return restored;
  log_.Info("restored the deploy labels a switch left paused (the agent stopped mid-switch)",
            {{"labels", recorded.dump(-1, ' ', false, json::error_handler_t::replace)}});
  return true;
}

}  // namespace gpuop::operands
