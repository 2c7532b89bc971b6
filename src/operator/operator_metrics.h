#pragma once

// The operator's Prometheus metrics, read from the running controller at scrape time:
//   gpuop_operator_leader                          1 while this replica leads
//   gpuop_operator_node_reconciles_total           nodes looked at
//   gpuop_operator_node_label_patches_total        node label writes
//   gpuop_operator_node_reconcile_errors_total     failed node reconciles (retried)
//   gpuop_operator_gpu_nodes{workload}             GPU nodes by the workload they serve
//   gpuop_operator_invalid_workload_nodes          GPU nodes with an invalid workload label
//   gpuop_operator_operand_apply_passes_total      times the operands were rendered and compared
//   gpuop_operator_operand_applies_total           operand objects written (server-side apply)
//   gpuop_operator_operand_deletes_total           operand objects pruned
//   gpuop_operator_operand_errors_total            operand passes that failed (retried)
//   gpuop_operator_operand_ready{state}            1 when a deployed state is rolled out

#include "absl/synchronization/mutex.h"

#include "operator/node_label_controller.h"
#include "operator/operand_controller.h"
#include "prometheus/collectable.h"

namespace gpuop::op {

class OperatorMetrics : public prometheus::Collectable {
 public:
  // The controller while this replica leads; nullptr otherwise. It must stay alive until
  // replaced.
  void SetController(const NodeLabelController* controller);
  // Likewise for the operand controller (nullptr when operands are not deployed).
  void SetOperands(const OperandController* operands);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  mutable absl::Mutex mu_;
  const NodeLabelController* controller_ ABSL_GUARDED_BY(mu_) = nullptr;
  const OperandController* operands_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace gpuop::op
