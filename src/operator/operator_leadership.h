#pragma once

// `gpuop operator`'s life as one of its replicas: campaign for the leader Lease (or not, with
// leader election off), run the controllers (operator_controllers.h) while leading and show
// them in the metrics, and end when the lease is lost, so that a fresh process campaigns with a
// clean slate, as controllers built on client-go do.
//
//   const int exit_code = RunOperatorReplica(client, recorder, log, options, replica, metrics,
//                                            stop);

#include <chrono>
#include <string>

#include "common/logger.h"
#include "common/stop_signal.h"
#include "kube/event_recorder.h"
#include "kube/rest_client.h"
#include "operator/operator_controllers.h"
#include "operator/operator_metrics.h"

namespace gpuop::op {

struct ReplicaOptions {
  bool leader_elect = true;
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  // This replica's name in the Lease.
  // How long a silent leader keeps the Lease; the renew deadline and retry period scale with it
  // as in client-go (15 s: 10 s and 2 s).
  std::chrono::milliseconds lease_duration = std::chrono::seconds(15);
};

// Runs until `stop`, or until the controllers cannot start or the lease is lost (both stop
// `stop` too). 0 on a stop from outside (SIGTERM), also one while the controllers wait for the
// API server; 1 otherwise.
int RunOperatorReplica(kube::RestClient& client, kube::EventRecorder& recorder, common::Logger& log,
                       const OperatorOptions& options, const ReplicaOptions& replica,
                       OperatorMetrics& metrics, common::StopSignal& stop);

}  // namespace gpuop::op
