// `gpuop uninstall-cleanup`: the Helm chart's pre-delete Job (operator/uninstall_cleanup.h).

#include <iostream>

#include "absl/strings/numbers.h"

#include "cli/dispatcher.h"
#include "cli/flag_parser.h"
#include "cli/signals.h"
#include "cli/subcommands.h"
#include "common/logger.h"
#include "kube/rest_client.h"
#include "operator/uninstall_cleanup.h"

namespace gpuop::cli {
namespace {

constexpr char kSummary[] =
    "Run by `helm uninstall` before it deletes the chart: scales the operator to 0, deletes the\n"
    "ClusterPolicies (their operand objects go with them), waits for the operand pods to stop,\n"
    "then takes gpuop's labels and annotations off every node. The admin's own labels\n"
    "(gpu.workload.config, cc.mode, gpu.deploy.operands) stay.";

int RunUninstallCleanup(const std::vector<std::string>& args, std::ostream& out,
                        std::ostream& err) {
  std::string kubeconfig;
  std::string ns = EnvOr("OPERATOR_NAMESPACE", "gpu-operator");
  std::string deployment = "gpuop-operator";
  std::string timeout = "200";
  std::string log_format = EnvOr("LOG_FORMAT", "text");
  FlagParser flags("uninstall-cleanup");
  flags.String("kubeconfig", &kubeconfig, "default: in-cluster, then $KUBECONFIG");
  flags.String("namespace", &ns, "the operator's namespace ($OPERATOR_NAMESPACE)");
  flags.String("operator-deployment", &deployment, "the operator's Deployment");
  flags.String("pods-timeout", &timeout, "seconds to wait for the operand pods to stop");
  flags.String("log-format", &log_format, "json or text ($LOG_FORMAT)");
  if (std::optional<int> exit = flags.ParseOrExit(args, kSummary, out, err)) return *exit;
  int timeout_seconds = 0;
  common::LogFormat format;
  if (!absl::SimpleAtoi(timeout, &timeout_seconds) || timeout_seconds < 0 ||
      !common::ParseLogFormat(log_format, format)) {
    err << "uninstall-cleanup: --pods-timeout is whole seconds, --log-format text or json\n";
    return kExitUsage;
  }
  common::StopSignal stop;
  StopOnSignals signals(stop);
  common::Logger log(err, format);
  absl::StatusOr<std::unique_ptr<kube::RestClient>> client =
      kube::ConnectToApiServer({.kubeconfig = kubeconfig});
  if (!client.ok()) {
    log.Error("no Kubernetes API to talk to", {{"error", std::string(client.status().message())}});
    return 1;
  }
  const absl::Status cleaned =
      op::RunUninstallCleanup(**client, log,
                              {.operator_namespace = ns,
                               .operator_deployment = deployment,
                               .pods_timeout = std::chrono::seconds(timeout_seconds)},
                              stop);
  if (!cleaned.ok()) {
    log.Error("cleanup failed", {{"error", std::string(cleaned.message())}});
    return 1;
  }
  return 0;
}

}  // namespace

Subcommand UninstallCleanupSubcommand() {
  return {"uninstall-cleanup",
          "helm uninstall's pre-delete step: stop gpuop and take its labels off the nodes",
          RunUninstallCleanup};
}

}  // namespace gpuop::cli
