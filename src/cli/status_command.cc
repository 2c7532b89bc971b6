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

constexpr char kSummary[] =
    "Prints the active ClusterPolicy's state and conditions and, for each GPU node, its\n"
    "workload, the operands deployed there and its CC mode. Exits 0 when the policy is ready;\n"
    "with --wait, waits up to that many seconds for it.";

int RunStatus(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  AgentMain main("status", kSummary, out, err);
  main.KubeconfigFlag();
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
    const op::FleetStatus fleet = op::SummarizeFleet(policies->items, nodes->items);
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
