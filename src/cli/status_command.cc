// `gpuop status`: the ClusterPolicy's state and each GPU node's workload, operands and CC mode.
// Exit 0 when the policy is ready, so scripts and `helm test` can wait on it.

#include <chrono>
#include <iostream>

#include "absl/strings/numbers.h"

#include "cli/dispatcher.h"
#include "cli/flag_parser.h"
#include "cli/signals.h"
#include "cli/subcommands.h"
#include "kube/resource.h"
#include "kube/rest_client.h"
#include "operator/active_policy.h"
#include "operator/fleet_status.h"

namespace gpuop::cli {
namespace {

constexpr char kSummary[] =
    "Prints the active ClusterPolicy's state and conditions and, for each GPU node, its\n"
    "workload, the operands deployed there and its CC mode. Exits 0 when the policy is ready;\n"
    "with --wait, waits up to that many seconds for it.";

int RunStatus(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string kubeconfig;
  std::string wait = "0";
  FlagParser flags("status");
  flags.String("kubeconfig", &kubeconfig, "default: in-cluster, then $KUBECONFIG");
  flags.String("wait", &wait, "seconds to wait for the policy to be ready; 0: answer at once");
  if (std::optional<int> exit = flags.ParseOrExit(args, kSummary, out, err)) return *exit;
  int wait_seconds = 0;
  if (!absl::SimpleAtoi(wait, &wait_seconds) || wait_seconds < 0) {
    err << "status: --wait is whole seconds\n";
    return kExitUsage;
  }
  absl::StatusOr<std::unique_ptr<kube::RestClient>> client =
      kube::ConnectToApiServer({.kubeconfig = kubeconfig});
  if (!client.ok()) {
    err << "status: " << client.status().message() << "\n";
    return 1;
  }
  common::StopSignal stop;
  StopOnSignals signals(stop);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  while (true) {
    absl::StatusOr<kube::ListPage> policies = (*client)->ListAll(op::kClusterPolicies, "");
    absl::StatusOr<kube::ListPage> nodes = (*client)->ListAll(
        kube::resources::kNodes, "", {.label_selector = "nvidia.com/gpu.present=true"});
    if (!policies.ok() || !nodes.ok()) {
      err << "status: " << (!policies.ok() ? policies.status().message() : nodes.status().message())
          << "\n";
      return 1;
    }
    const op::FleetStatus fleet = op::SummarizeFleet(policies->items, nodes->items);
    if (fleet.ready || std::chrono::steady_clock::now() >= until ||
        stop.SleepFor(std::chrono::seconds(1))) {
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
