// `gpuop operator`: the cluster-wide controller (operator/): routes GPU nodes to their workload
// (node labels), deploys the operands the ClusterPolicy enables, and reports in its status.

#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "api/agent_endpoints.h"
#include "cli/dispatcher.h"
#include "cli/flag_parser.h"
#include "cli/signals.h"
#include "cli/subcommands.h"
#include "common/logger.h"
#include "common/metrics_server.h"
#include "kube/event_recorder.h"
#include "kube/leader_election.h"
#include "kube/rest_client.h"
#include "operator/operator_controllers.h"
#include "operator/operator_metrics.h"

namespace gpuop::cli {
namespace {

constexpr char kSummary[] =
    "Reads the active ClusterPolicy (nvidia.com/v1) and keeps every GPU node's\n"
    "nvidia.com/gpu.present and nvidia.com/gpu.deploy.<operand> labels as its workload asks;\n"
    "applies the operands it enables (DaemonSets, RBAC, ConfigMaps, RuntimeClasses) and\n"
    "reports their rollout in the ClusterPolicy's status.\n"
    "Leader-elected: run two replicas; one works, the other waits.";

int RunOperator(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string kubeconfig;
  std::string ns = EnvOr("OPERATOR_NAMESPACE", "gpu-operator");
  std::string identity = EnvOr("POD_NAME", "");
  std::string lease_name = "gpuop-operator";
  std::string metrics_address = api::kAgentMetricsAddress;
  std::string log_format = EnvOr("LOG_FORMAT", "json");
  bool leader_elect = true;
  std::string lease_seconds = "15";
  std::string operand_image = EnvOr("GPUOP_IMAGE", "");
  std::string operand_pull_policy = EnvOr("GPUOP_IMAGE_PULL_POLICY", "IfNotPresent");
  bool deploy_operands = true;
  FlagParser flags("operator");
  flags.String("kubeconfig", &kubeconfig, "kubeconfig (default: $KUBECONFIG, then in-cluster)");
  flags.String("namespace", &ns, "the operator's namespace, for its Lease ($OPERATOR_NAMESPACE)");
  flags.String("identity", &identity, "this replica's name in the Lease ($POD_NAME; else host)");
  flags.String("lease-name", &lease_name, "the leader-election Lease");
  flags.Bool("leader-elect", &leader_elect, "campaign for the Lease before working");
  flags.String("lease-duration", &lease_seconds,
               "seconds a silent leader keeps the Lease; renew deadline and retry period scale "
               "with it as in client-go (15: 10 and 2)");
  flags.String("metrics-address", &metrics_address,
               "[host]:port serving /metrics, /healthz, /readyz; empty: none");
  flags.String("log-format", &log_format, "json or text ($LOG_FORMAT)");
  flags.String("operand-image", &operand_image,
               "the image of the operands gpuop runs itself: its own ($GPUOP_IMAGE)");
  flags.String("operand-image-pull-policy", &operand_pull_policy,
               "their pull policy unless the policy's section sets one ($GPUOP_IMAGE_PULL_POLICY)");
  flags.Bool("deploy-operands", &deploy_operands,
             "apply operand objects; off: labels and status only");
  if (std::optional<int> exit = flags.ParseOrExit(args, kSummary, out, err)) return *exit;
  if (deploy_operands && operand_image.empty()) {
    err << "operator: --operand-image (or $GPUOP_IMAGE) is needed to deploy operands; the Helm "
           "chart sets it to the operator's own image\n";
    return kExitUsage;
  }
  common::LogFormat format;
  if (!common::ParseLogFormat(log_format, format)) {
    err << "operator: --log-format is text or json\n";
    return kExitUsage;
  }
  int lease_duration = 0;
  if (!absl::SimpleAtoi(lease_seconds, &lease_duration) || lease_duration < 3 ||
      lease_duration > 3600) {
    err << "operator: --lease-duration is whole seconds from 3 to 3600, not \"" << lease_seconds
        << "\"\n";
    return kExitUsage;
  }
  if (identity.empty()) identity = EnvOr("HOSTNAME", "gpuop-operator");

  common::StopSignal stop;
  StopOnSignals signals(stop);  // Before any thread starts.
  common::Logger log(err, format);

  absl::StatusOr<kube::RestConfig> config = kube::LoadRestConfig({.kubeconfig = kubeconfig});
  if (!config.ok()) {
    log.Error("no Kubernetes API to talk to", {{"error", std::string(config.status().message())}});
    return 1;
  }
  absl::StatusOr<std::unique_ptr<kube::RestClient>> client =
      kube::RestClient::Create(*std::move(config));
  if (!client.ok()) {
    log.Error("cannot set up the API client", {{"error", std::string(client.status().message())}});
    return 1;
  }

  auto registry = std::make_shared<prometheus::Registry>();
  auto metrics = std::make_shared<op::OperatorMetrics>();
  std::unique_ptr<common::MetricsServer> server;
  if (!metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<common::MetricsServer>> started =
        common::MetricsServer::Start(metrics_address, registry);
    if (!started.ok()) {
      log.Error("cannot serve metrics", {{"error", std::string(started.status().message())}});
      return 1;
    }
    server = *std::move(started);
    server->AddCollectable(metrics);
    server->SetReady(true);  // A standby is ready too: it is there to take over.
  }

  kube::EventRecorder recorder(**client, "gpuop.io/operator", identity);
  std::unique_ptr<op::OperatorControllers> controllers;
  int exit_code = 0;
  const auto start_leading = [&] {
    log.Info("leading: starting controllers", {{"identity", identity}});
    controllers = std::make_unique<op::OperatorControllers>(
        **client, recorder, log,
        op::OperatorOptions{.labels = {.operator_namespace = ns},
                            .operands = {.render = {.operator_namespace = ns,
                                                    .gpuop_image = operand_image,
                                                    .gpuop_image_pull_policy =
                                                        op::PullPolicy(operand_pull_policy)}},
                            .deploy_operands = deploy_operands});
    // Start waits for the API server; a SIGTERM meanwhile ends it at once, and is no failure.
    if (!controllers->Start(stop)) {
      if (!stop.Stopped()) exit_code = 1;
      stop.Stop();
      return;
    }
    metrics->SetController(&controllers->Labels());
    metrics->SetOperands(controllers->Operands());
  };
  const auto stop_leading = [&] {
    metrics->SetController(nullptr);
    metrics->SetOperands(nullptr);
    if (controllers) controllers->Stop();
    if (!stop.Stopped()) {
      // Lost the lease while running: exit, so a fresh process campaigns with a clean slate.
      log.Error("lost the leader lease; exiting", {{"identity", identity}});
      exit_code = 1;
      stop.Stop();
    }
  };

  log.Info("operator started", {{"server", (*client)->Config().server},
                                {"namespace", ns},
                                {"identity", identity},
                                {"leader_elect", leader_elect ? "true" : "false"},
                                {"metrics", metrics_address}});
  if (leader_elect) {
    const std::chrono::milliseconds lease = std::chrono::seconds(lease_duration);
    kube::LeaderElector elector(**client,
                                {.lease_namespace = ns,
                                 .lease_name = lease_name,
                                 .identity = identity,
                                 .lease_duration = lease,
                                 .renew_deadline = lease * 2 / 3,
                                 .retry_period = lease * 2 / 15},
                                log);
    elector.Run(stop, start_leading, stop_leading);
  } else {
    start_leading();
    stop.SleepFor(std::chrono::hours(24 * 365 * 100));
    stop_leading();
  }
  metrics->SetController(nullptr);
  metrics->SetOperands(nullptr);
  controllers.reset();
  log.Info("operator stopped");
  return exit_code;
}

}  // namespace

Subcommand OperatorSubcommand() {
  return {"operator", "route GPU nodes, deploy the operands, report status (cluster controller)",
          RunOperator};
}

}  // namespace gpuop::cli
