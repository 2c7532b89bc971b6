// `gpuop operator`: the flags of the cluster-wide controller (operator/), which routes GPU nodes
// to their workload (node labels), deploys the operands the ClusterPolicy enables, and reports
// in its status.

#include <malloc.h>

#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "api/container_images.h"
#include "api/event_reporters.h"
#include "cli/agent_main.h"
#include "cli/subcommands.h"
#include "operator/operand_renderer.h"
#include "operator/operator_leadership.h"
#include "operator/operator_metrics.h"

namespace gpuop::cli {
namespace {

constexpr char kSummary[] =
    "Reads the active ClusterPolicy (nvidia.com/v1) and keeps every GPU node's\n"
    "nvidia.com/gpu.present and nvidia.com/gpu.deploy.<operand> labels as its workload asks;\n"
    "applies the operands it enables (DaemonSets, RBAC, ConfigMaps, RuntimeClasses) and\n"
    "reports their rollout in the ClusterPolicy's status.\n"
    "Leader-elected: run two replicas; one works, the other waits.";

// The operator's heap is mostly long-lived small objects (a few hundred bytes per Node) and a
// few large buffers that live for one request (an apiserver list page, a response body). glibc
// would give each of the sixteen node workers an arena of its own, and after the first large
// buffer is freed it raises its mmap threshold to that buffer's size, so later buffers come
// from the arenas and stay there once freed. At 5,000 Nodes that held more memory than the
// Nodes themselves (docs/benchmarks.md). Two arenas for threads that mostly wait on the
// network, and large buffers always mapped and unmapped.
// Called before any thread starts.
void ConfigureAllocatorForFleetScale() {
  mallopt(M_ARENA_MAX, 2);                // NOLINT(concurrency-mt-unsafe): no threads yet.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);  // NOLINT(concurrency-mt-unsafe): no threads yet.
}

struct OperatorFlags {
  std::string ns = EnvOr("OPERATOR_NAMESPACE", "gpu-operator");
  std::string identity = EnvOr("POD_NAME", "");
  std::string lease_name = "gpuop-operator";
  bool leader_elect = true;
  std::string lease_seconds = "15";
  std::string operand_image = EnvOr("GPUOP_IMAGE", "");
  std::string operand_pull_policy = EnvOr("GPUOP_IMAGE_PULL_POLICY", "IfNotPresent");
  bool deploy_operands = true;
};

void DeclareFlags(AgentMain& main, OperatorFlags& flags) {
  FlagParser& parser = main.Flags();
  main.KubeconfigFlag();
  parser.String("namespace", &flags.ns,
                "the operator's namespace, for its Lease ($OPERATOR_NAMESPACE)");
  parser.String("identity", &flags.identity,
                "this replica's name in the Lease ($POD_NAME; else host)");
  parser.String("lease-name", &flags.lease_name, "the leader-election Lease");
  parser.Bool("leader-elect", &flags.leader_elect, "campaign for the Lease before working");
  parser.String("lease-duration", &flags.lease_seconds,
                "seconds a silent leader keeps the Lease; renew deadline and retry period scale "
                "with it as in client-go (15: 10 and 2)");
  main.MetricsAddressFlag("[host]:port serving /metrics, /healthz, /readyz; empty: none");
  main.LogFormatFlag("json or text ($LOG_FORMAT)", "json");
  parser.String("operand-image", &flags.operand_image,
                "the image of the operands gpuop runs itself: its own ($GPUOP_IMAGE)");
  parser.String("operand-image-pull-policy", &flags.operand_pull_policy,
                "their pull policy unless the policy's section sets one "
                "($GPUOP_IMAGE_PULL_POLICY)");
  parser.Bool("deploy-operands", &flags.deploy_operands,
              "apply operand objects; off: labels and status only");
}

op::OperatorOptions ControllerOptions(const OperatorFlags& flags) {
  op::OperatorOptions options{.labels = {.operator_namespace = flags.ns},
                              .operands = {.render = {.operator_namespace = flags.ns,
                                                      .gpuop_image = flags.operand_image,
                                                      .gpuop_image_pull_policy = op::PullPolicy(
                                                          flags.operand_pull_policy)}},
                              .deploy_operands = flags.deploy_operands};
  // $DRIVER_IMAGE and the like, as NVIDIA's operator reads them: the image of a container-path
  // operand whose ClusterPolicy section names none.
  for (const api::FallbackImage& fallback : api::kFallbackImages) {
    const std::string image = EnvOr(std::string(fallback.env).c_str(), "");
    if (!image.empty())
      options.operands.render.fallback_images[std::string(fallback.spec_key)] = image;
  }
  return options;
}

int RunOperator(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  AgentMain main("operator", kSummary, out, err);
  OperatorFlags flags;
  DeclareFlags(main, flags);
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  if (flags.deploy_operands && flags.operand_image.empty()) {
    return main.UsageError(
        "--operand-image (or $GPUOP_IMAGE) is needed to deploy operands; the Helm chart sets it "
        "to the operator's own image");
  }
  int lease_seconds = 0;
  if (!absl::SimpleAtoi(flags.lease_seconds, &lease_seconds) || lease_seconds < 3 ||
      lease_seconds > 3600) {
    return main.UsageError(absl::StrCat("--lease-duration is whole seconds from 3 to 3600, not \"",
                                        flags.lease_seconds, "\""));
  }
  if (flags.identity.empty()) flags.identity = EnvOr("HOSTNAME", "gpuop-operator");
  main.CatchSignals();  // Before any thread starts.
  ConfigureAllocatorForFleetScale();
  common::Logger& log = main.Log();
  absl::StatusOr<kube::RestClient*> client = main.Api();
  if (!client.ok()) {
    log.Error("no Kubernetes API to talk to", {{"error", std::string(client.status().message())}});
    return 1;
  }
  auto metrics = std::make_shared<op::OperatorMetrics>();
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> server =
      main.ServeMetrics(std::make_shared<prometheus::Registry>());
  if (!server.ok()) {
    log.Error("cannot serve metrics", {{"error", std::string(server.status().message())}});
    return 1;
  }
  if (*server) {
    (*server)->AddCollectable(metrics);
    (*server)->SetReady(true);  // A standby is ready too: it is there to take over.
  }
  kube::EventRecorder recorder(**client, api::kOperatorReporter, flags.identity);
  log.Info("operator started", {{"server", (*client)->Config().server},
                                {"namespace", flags.ns},
                                {"identity", flags.identity},
                                {"leader_elect", flags.leader_elect ? "true" : "false"},
                                {"metrics", main.MetricsAddress()}});
  const int exit_code =
      op::RunOperatorReplica(**client, recorder, log, ControllerOptions(flags),
                             {.leader_elect = flags.leader_elect,
                              .lease_namespace = flags.ns,
                              .lease_name = flags.lease_name,
                              .identity = flags.identity,
                              .lease_duration = std::chrono::seconds(lease_seconds)},
                             *metrics, main.Stop());
  log.Info("operator stopped");
  return exit_code;
}

}  // namespace

Subcommand OperatorSubcommand() {
  return {"operator", "route GPU nodes, deploy the operands, report status (cluster controller)",
          RunOperator};
}

}  // namespace gpuop::cli
