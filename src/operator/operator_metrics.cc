#include "operator/operator_metrics.h"

#include <limits>

#include "common/metric_families.h"
#include "prometheus/metric_family.h"

namespace gpuop::op {
namespace {

using common::MetricFamilyOf;
using common::SingleValueFamily;

prometheus::MetricFamily Histogram(const char* name, const char* help,
                                   const common::DurationHistogram& histogram) {
  prometheus::MetricFamily family = MetricFamilyOf(name, help, prometheus::MetricType::Histogram);
  const common::DurationHistogram::Snapshot snapshot = histogram.Read();
  prometheus::ClientMetric metric;
  metric.histogram.sample_count = snapshot.count;
  metric.histogram.sample_sum = snapshot.sum_seconds;
  for (size_t i = 0; i < snapshot.cumulative.size(); ++i) {
    metric.histogram.bucket.push_back(
        {snapshot.cumulative[i], common::DurationHistogram::kBoundsSeconds[i]});
  }
  metric.histogram.bucket.push_back({snapshot.count, std::numeric_limits<double>::infinity()});
  family.metric.push_back(metric);
  return family;
}

}  // namespace

void OperatorMetrics::SetController(const NodeLabelController* controller) {
  absl::MutexLock lock(&mu_);
  controller_ = controller;
}

void OperatorMetrics::SetOperands(const OperandController* operands) {
  absl::MutexLock lock(&mu_);
  operands_ = operands;
}

std::vector<prometheus::MetricFamily> OperatorMetrics::Collect() const {
  using prometheus::MetricType;
  absl::MutexLock lock(&mu_);
  std::vector<prometheus::MetricFamily> families;
  families.push_back(SingleValueFamily("gpuop_operator_leader", "1 while this replica leads.",
                                       MetricType::Gauge, controller_ != nullptr ? 1 : 0));
  if (controller_ == nullptr) return families;
  const NodeLabelStats& stats = controller_->Stats();
  families.push_back(SingleValueFamily("gpuop_operator_node_reconciles_total", "Nodes looked at.",
                                       MetricType::Counter,
                                       static_cast<double>(stats.reconciles.load())));
  families.push_back(SingleValueFamily("gpuop_operator_node_label_patches_total",
                                       "Node label writes.", MetricType::Counter,
                                       static_cast<double>(stats.patches.load())));
  families.push_back(Histogram("gpuop_operator_node_reconcile_duration_seconds",
                               "Time one node reconcile (or one status pass) took.",
                               stats.reconcile_duration));
  families.push_back(SingleValueFamily("gpuop_operator_policy_status_writes_total",
                                       "ClusterPolicy status writes: a quiet restart adds none.",
                                       MetricType::Counter,
                                       static_cast<double>(stats.status_writes.load())));
  families.push_back(SingleValueFamily(
      "gpuop_operator_node_reconcile_errors_total", "Node reconciles that failed and were retried.",
      MetricType::Counter, static_cast<double>(stats.errors.load())));
  prometheus::MetricFamily nodes = MetricFamilyOf(
      "gpuop_operator_gpu_nodes", "GPU nodes by the workload they serve.", MetricType::Gauge);
  for (const char* workload : {"container", "vm-passthrough", "vm-vgpu"}) {
    prometheus::ClientMetric metric;
    metric.label.push_back({"workload", workload});
    const auto counts = controller_->GpuNodesByWorkload();
    const auto it = counts.find(workload);
    metric.gauge.value = it == counts.end() ? 0 : it->second;
    nodes.metric.push_back(metric);
  }
  families.push_back(std::move(nodes));
  families.push_back(SingleValueFamily(
      "gpuop_operator_invalid_workload_nodes",
      "GPU nodes whose nvidia.com/gpu.workload.config names no workload.", MetricType::Gauge,
      static_cast<double>(controller_->InvalidNodes().size())));
  if (operands_ == nullptr) return families;
  const OperandStats& operand_stats = operands_->Stats();
  families.push_back(SingleValueFamily(
      "gpuop_operator_operand_apply_passes_total",
      "Times the operands were rendered and compared with the cluster.", MetricType::Counter,
      static_cast<double>(operand_stats.apply_passes.load())));
  families.push_back(Histogram("gpuop_operator_operand_apply_pass_duration_seconds",
                               "Time one render, compare and apply pass over the operands took.",
                               operand_stats.apply_pass_duration));
  families.push_back(SingleValueFamily(
      "gpuop_operator_operand_applies_total", "Operand objects written (server-side apply).",
      MetricType::Counter, static_cast<double>(operand_stats.applies.load())));
  families.push_back(
      SingleValueFamily("gpuop_operator_operand_deletes_total",
                        "Operand objects deleted because the policy no longer asks for them.",
                        MetricType::Counter, static_cast<double>(operand_stats.deletes.load())));
  families.push_back(SingleValueFamily(
      "gpuop_operator_operand_errors_total", "Operand passes that failed and were retried.",
      MetricType::Counter, static_cast<double>(operand_stats.errors.load())));
  prometheus::MetricFamily ready =
      MetricFamilyOf("gpuop_operator_operand_ready",
                     "1 when a deployed operand state is rolled out.", MetricType::Gauge);
  for (const auto& [state, rolled_out] : operands_->StatesReady()) {
    prometheus::ClientMetric metric;
    metric.label.push_back({"state", state});
    metric.gauge.value = rolled_out ? 1 : 0;
    ready.metric.push_back(metric);
  }
  families.push_back(std::move(ready));
  return families;
}

}  // namespace gpuop::op
