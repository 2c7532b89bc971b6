#pragma once

// The leader's controllers, wired together: node labels and ClusterPolicy status
// (NodeLabelController) and the operands (OperandController), whose readiness the status
// includes. What `gpuop operator` runs while it leads, and what tests run in-process.
//
//   OperatorControllers controllers(client, recorder, log, options);
//   if (!controllers.Start()) ...;
//   controllers.Stop();

#include <chrono>
#include <memory>

#include "common/logger.h"
#include "kube/event_recorder.h"
#include "kube/rest_client.h"
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
  OperatorControllers(kube::RestClient& client, kube::EventRecorder& recorder, common::Logger& log,
                      OperatorOptions options);
  ~OperatorControllers();
  OperatorControllers(const OperatorControllers&) = delete;
  OperatorControllers& operator=(const OperatorControllers&) = delete;

  // False when a cache did not fill within `sync_timeout`; everything is stopped then.
  bool Start(std::chrono::milliseconds sync_timeout = std::chrono::seconds(60));
  void Stop();

  NodeLabelController& Labels() { return *labels_; }
  // Null when operands are not deployed.
  OperandController* Operands() { return operands_.get(); }

 private:
  // Both exist before either starts, since each calls into the other from its worker.
  std::unique_ptr<OperandController> operands_;
  std::unique_ptr<NodeLabelController> labels_;
};

}  // namespace gpuop::op
