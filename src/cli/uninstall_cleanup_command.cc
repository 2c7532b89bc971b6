// `gpuop uninstall-cleanup`: the Helm chart's pre-delete Job (operator/uninstall_cleanup.h).

#include <iostream>

#include "cli/agent_main.h"
#include "cli/subcommands.h"
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
  AgentMain main("uninstall-cleanup", kSummary, out, err);
  constexpr char kRefusal[] = "--pods-timeout is whole seconds, --log-format text or json";
  std::string ns = EnvOr("OPERATOR_NAMESPACE", "gpu-operator");
  std::string deployment = "gpuop-operator";
  main.KubeconfigFlag();
  main.Flags().String("namespace", &ns, "the operator's namespace ($OPERATOR_NAMESPACE)");
  main.Flags().String("operator-deployment", &deployment, "the operator's Deployment");
  const int& timeout_seconds = main.SecondsFlag(
      "pods-timeout", 200, "seconds to wait for the operand pods to stop", kRefusal);
  main.LogFormatFlag("json or text ($LOG_FORMAT)", "text", "LOG_FORMAT", kRefusal);
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  main.CatchSignals();
  common::Logger& log = main.Log();
  absl::StatusOr<kube::RestClient*> client = main.Api();
  if (!client.ok()) {
    log.Error("no Kubernetes API to talk to", {{"error", std::string(client.status().message())}});
    return 1;
  }
  const absl::Status cleaned =
      op::RunUninstallCleanup(**client, log,
                              {.operator_namespace = ns,
                               .operator_deployment = deployment,
                               .pods_timeout = std::chrono::seconds(timeout_seconds)},
                              main.Stop());
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
