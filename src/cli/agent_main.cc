#include "cli/agent_main.h"

#include <ostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "api/agent_endpoints.h"
#include "api/labels.h"
#include "cli/dispatcher.h"
#include "kube/json_fields.h"
#include "kube/resource.h"

namespace gpuop::cli {

AgentMain::AgentMain(std::string command, std::string summary, std::ostream& out, std::ostream& err)
    : command_(command),
      summary_(std::move(summary)),
      out_(out),
      err_(err),
      flags_(std::move(command)) {}

void AgentMain::HostRootFlag() {
  host_root_ = EnvOr("HOST_ROOT", "/");
  flags_.String("host-root", &host_root_, "where the host's / is mounted ($HOST_ROOT)");
}

void AgentMain::NodeNameFlag(std::string help) {
  node_name_ = EnvOr("NODE_NAME", "");
  flags_.String("node-name", &node_name_, std::move(help));
}

void AgentMain::KubeconfigFlag(absl::string_view what) {
  // The order kube::LoadRestConfig tries them in.
  flags_.String(
      "kubeconfig", &kubeconfig_,
      absl::StrCat(what, " (default: $KUBECONFIG, then in-cluster, then ~/.kube/config)"));
  flags_.String("context", &context_,
                "the kubeconfig's context to use (default: its current-context)");
}

void AgentMain::MetricsAddressFlag(std::string help, std::string fallback) {
  metrics_address_ = std::move(fallback);
  flags_.String("metrics-address", &metrics_address_, std::move(help));
}

void AgentMain::LogFormatFlag(std::string help, std::string fallback, const char* env,
                              std::string refusal) {
  log_format_ = env != nullptr ? EnvOr(env, fallback) : std::move(fallback);
  log_format_refusal_ = std::move(refusal);
  flags_.String("log-format", &log_format_, std::move(help));
}

const int& AgentMain::SecondsFlag(std::string name, int fallback, std::string help,
                                  std::string refusal, int minimum) {
  Seconds& seconds = seconds_.emplace_back(Seconds{.text = std::to_string(fallback),
                                                   .value = fallback,
                                                   .minimum = minimum,
                                                   .refusal = std::move(refusal)});
  flags_.String(std::move(name), &seconds.text, std::move(help));
  return seconds.value;
}

std::optional<int> AgentMain::Parse(const std::vector<std::string>& args) {
  if (std::optional<int> exit = flags_.ParseOrExit(args, summary_, out_, err_)) return exit;
  common::LogFormat format = common::LogFormat::kText;
  if (log_format_refusal_.has_value() && !common::ParseLogFormat(log_format_, format)) {
    return UsageError(*log_format_refusal_);
  }
  for (Seconds& seconds : seconds_) {
    if (!absl::SimpleAtoi(seconds.text, &seconds.value) || seconds.value < seconds.minimum) {
      return UsageError(seconds.refusal);
    }
  }
  log_.emplace(err_, format);
  return std::nullopt;
}

int AgentMain::UsageError(absl::string_view problem) {
  err_ << command_ << ": " << problem << "\n";
  return kExitUsage;
}

int AgentMain::Failure(absl::string_view problem) {
  err_ << command_ << ": " << problem << "\n";
  return 1;
}

common::Logger& AgentMain::Log() {
  // Parse makes it; a command that logs before parsing still gets the text format.
  if (!log_.has_value()) log_.emplace(err_, common::LogFormat::kText);
  return *log_;
}

void AgentMain::CatchSignals() {
  if (!signals_.has_value()) signals_.emplace(stop_);
}

absl::StatusOr<std::unique_ptr<common::MetricsServer>> AgentMain::ServeMetrics(
    std::shared_ptr<prometheus::Registry> registry, bool serve) {
  if (!serve || metrics_address_.empty()) return nullptr;
  return common::MetricsServer::Start(metrics_address_, std::move(registry));
}

absl::StatusOr<kube::RestClient*> AgentMain::Api() {
  if (client_ == nullptr) {
    absl::StatusOr<std::unique_ptr<kube::RestClient>> client =
        kube::ConnectToApiServer({.kubeconfig = kubeconfig_, .context = context_});
    if (!client.ok()) return client.status();
    client_ = *std::move(client);
  }
  return client_.get();
}

absl::StatusOr<AgentMain::NodeApi> AgentMain::ReportAs(std::string_view reporter) {
  absl::StatusOr<kube::RestClient*> client = Api();
  if (!client.ok()) return client.status();
  recorder_ = std::make_unique<kube::EventRecorder>(**client, std::string(reporter),
                                                    EnvOr("POD_NAME", node_name_));
  return NodeApi{.client = *client, .events = recorder_.get()};
}

absl::StatusOr<std::string> AgentMain::NodeLabel(const std::string& key) {
  absl::StatusOr<kube::RestClient*> client = Api();
  if (!client.ok()) return client.status();
  absl::StatusOr<kube::json> node = (*client)->Get(kube::resources::kNodes, "", node_name_);
  if (!node.ok()) return node.status();
  return kube::StringField(kube::ObjectField(kube::ObjectField(*node, "metadata"), "labels"),
                           key.c_str());
}

absl::StatusOr<bool> AgentMain::StillDeployedHere(std::string_view operand) {
  absl::StatusOr<std::string> label = NodeLabel(api::DeployLabelOf(operand));
  if (!label.ok()) return label.status();
  return api::DeployLabelKeepsOperand(*label);
}

}  // namespace gpuop::cli
