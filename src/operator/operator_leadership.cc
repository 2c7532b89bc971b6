#include "operator/operator_leadership.h"

#include <memory>

#include "kube/leader_election.h"

namespace gpuop::op {

int RunOperatorReplica(kube::RestClient& client, kube::EventRecorder& recorder, common::Logger& log,
                       const OperatorOptions& options, const ReplicaOptions& replica,
                       OperatorMetrics& metrics, common::StopSignal& stop) {
  std::unique_ptr<OperatorControllers> controllers;
  int exit_code = 0;
  const auto start_leading = [&] {
    log.Info("leading: starting controllers", {{"identity", replica.identity}});
    controllers = std::make_unique<OperatorControllers>(client, recorder, log, options);
    // Start waits for the API server; a SIGTERM meanwhile ends it at once, and is no failure.
    if (!controllers->Start(stop)) {
      if (!stop.Stopped()) exit_code = 1;
      stop.Stop();
      return;
    }
    metrics.SetController(&controllers->Labels());
    metrics.SetOperands(controllers->Operands());
  };
  const auto stop_leading = [&] {
    metrics.SetController(nullptr);
    metrics.SetOperands(nullptr);
    if (controllers) controllers->Stop();
    if (!stop.Stopped()) {
      // Lost the lease while running: exit, so a fresh process campaigns with a clean slate.
      log.Error("lost the leader lease; exiting", {{"identity", replica.identity}});
      exit_code = 1;
      stop.Stop();
    }
  };
  if (replica.leader_elect) {
    const std::chrono::milliseconds lease = replica.lease_duration;
    kube::LeaderElector elector(client,
                                {.lease_namespace = replica.lease_namespace,
                                 .lease_name = replica.lease_name,
                                 .identity = replica.identity,
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
  metrics.SetController(nullptr);
  metrics.SetOperands(nullptr);
  controllers.reset();
  return exit_code;
}

}  // namespace gpuop::op
