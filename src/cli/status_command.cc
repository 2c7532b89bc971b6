// `gpuop status`: the ClusterPolicy's state and each GPU node's workload, operands and CC mode.
// Exit 0 when the policy is ready, so scripts and `helm test` can wait on it.

#include <chrono>
#include <iostream>

#include "absl/strings/str_cat.h"

#include "api/labels.h"
#include "cli/agent_main.h"
#include "cli/subcommands.h"
#include "common/clock.h"
#include "kube/resource.h"
#include "operator/active_policy.h"
#include "operator/fleet_status.h"

namespace gpuop::cli {
namespace {

constexpr char kDefaultNamespace[] = "gpu-operator";
// Every operand DaemonSet's pods carry it (deployments/operands/*/0500_daemonset.yaml).
constexpr char kOperandPodSelector[] = "app.kubernetes.io/part-of=gpuop";

constexpr char kSummary[] =
    "Prints the active ClusterPolicy's state and conditions and, for each GPU node, its\n"
    "workload, the operands deployed there, how many of their pods are ready and its CC mode,\n"
    "then each operand pod that is not ready, with why. Exits 0 when the policy is ready;\n"
    "with --wait, waits up to that many seconds for it.";

int RunStatus(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  AgentMain main("status", kSummary, out, err);
  main.KubeconfigFlag();
  std::string ns;
  main.Flags().String("namespace", &ns,
                      "the operator's namespace, whose operand pods are counted (default: the "
                      "one the ClusterPolicy's status names, else gpu-operator)");
  main.Flags().Short('n', "namespace");
  const int& wait_seconds =
      main.SecondsFlag("wait", 0, "seconds to wait for the policy to be ready; 0: answer at once",
                       "--wait is whole seconds");
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  absl::StatusOr<kube::RestClient*> client = main.Api();
  if (!client.ok()) return main.Failure(client.status().message());
  main.CatchSignals();
  const common::Clock& clock = common::SteadyClock::Instance();
  const common::Clock::TimePoint until = clock.Now() + std::chrono::seconds(wait_seconds);
  while (true) {
    absl::StatusOr<kube::ListPage> policies = (*client)->ListAll(op::kClusterPolicies, "");
    absl::StatusOr<kube::ListPage> nodes =
        (*client)->ListAll(kube::resources::kNodes, "",
                           {.label_selector = absl::StrCat(api::kGpuPresentLabel, "=true")});
    if (!policies.ok() || !nodes.ok()) {
      return main.Failure(!policies.ok() ? policies.status().message() : nodes.status().message());
    }
    std::string pods_namespace = ns.empty() ? op::OperatorNamespaceOf(policies->items) : ns;
    if (pods_namespace.empty()) pods_namespace = kDefaultNamespace;
    absl::StatusOr<kube::ListPage> pods = (*client)->ListAll(
        kube::resources::kPods, pods_namespace, {.label_selector = kOperandPodSelector});
    if (!pods.ok() && !absl::IsPermissionDenied(pods.status())) {
      return main.Failure(pods.status().message());
    }
    // Without the right to list pods there, the table still says what the labels say.
    const op::FleetStatus fleet = op::SummarizeFleet(
        policies->items, nodes->items, pods.ok() ? pods->items : nlohmann::json::array());
    if (fleet.ready || clock.Now() >= until || main.Stop().SleepFor(std::chrono::seconds(1))) {
      out << fleet.text;
      return fleet.ready ? 0 : 1;
    }
  }
}

}  // namespace

Subcommand StatusSubcommand() {
  return {"status", "the ClusterPolicy's state and each GPU node's operands (exit 0: ready)",
          RunStatus};
}

}  // namespace gpuop::cli
