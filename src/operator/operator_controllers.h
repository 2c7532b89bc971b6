#pragma once

// The leader's controllers, wired together: node labels and ClusterPolicy status
// (NodeLabelController) and the operands (OperandController), whose readiness the status
// includes. What `gpuop operator` runs while it leads, and what tests run in-process.
//
//   OperatorControllers controllers(client, recorder, log, options);
//   if (!controllers.Start(stop)) ...;
//   controllers.Stop();

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"

#include "common/logger.h"
#include "common/stop_signal.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "kube/rest_client.h"
#include "operator/active_policy.h"
#include "operator/node_label_controller.h"
#include "operator/operand_controller.h"

namespace gpuop::op {

struct OperatorOptions {
  NodeLabelControllerOptions labels;  // labels.operand_facts is set here; leave it empty.
  OperandControllerOptions operands;  // on_facts_changed is set here; leave it empty.
  bool deploy_operands = true;
};

class OperatorControllers {
 public:
  static constexpr std::chrono::milliseconds kSyncTimeout = std::chrono::seconds(60);

  OperatorControllers(kube::RestClient& client, kube::EventRecorder& recorder, common::Logger& log,
                      OperatorOptions options);
  ~OperatorControllers();
  OperatorControllers(const OperatorControllers&) = delete;
  OperatorControllers& operator=(const OperatorControllers&) = delete;

  // Waits up to `sync_timeout` for the API server to answer the lists the caches start with,
  // logging each failure (the first at once, then one line per 30 s) with the server's URL and
  // the reason; then starts the caches, which have `sync_timeout` to fill, and the workers.
  // False when `stop` fired first (then at once) or when either wait ran out; everything is
  // stopped then.
  bool Start(const common::StopSignal& stop, std::chrono::milliseconds sync_timeout = kSyncTimeout);
  // As above, for a caller that never stops early.
  bool Start(std::chrono::milliseconds sync_timeout = kSyncTimeout);
  void Stop();

  NodeLabelController& Labels() { return *labels_; }
  // Null when operands are not deployed.
  OperandController* Operands() { return operands_.get(); }

 private:
  // One list of each kind the caches hold, the first item only: does the API answer them?
  absl::Status ListOnceEach(const common::StopSignal& stop);
  // Retries ListOnceEach with backoff until it succeeds (true), `stop` fires or `timeout` ends.
  bool WaitForApiServer(const common::StopSignal& stop, std::chrono::milliseconds timeout);

  kube::RestClient& client_;
  common::Logger& log_;
  std::vector<std::string> cached_paths_;  // What the caches list: "/api/v1/nodes", ...
  // The one ClusterPolicy cache; both controllers read it. Declared first, so it is destroyed
  // last (Stop() has ended its events by then).
  std::unique_ptr<kube::Informer<PolicyView>> policies_;
  // Both exist before either starts, since each calls into the other from its worker.
  std::unique_ptr<OperandController> operands_;
  std::unique_ptr<NodeLabelController> labels_;
};

}  // namespace gpuop::op
