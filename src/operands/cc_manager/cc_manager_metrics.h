#pragma once

// The CC manager's Prometheus metrics, updated after each apply:
//   gpuop_cc_manager_applies_total{result="ok"|"failed"}   applies since start
//   gpuop_cc_manager_switches_total                         applies that reset devices
//   gpuop_cc_manager_switch_duration_seconds                the last switch, all devices
//   gpuop_cc_manager_device_mode{device="<bdf>",mode="on"}  1 for each device's current mode

#include <map>
#include <string>

#include "absl/synchronization/mutex.h"

#include "operands/cc_manager/cc_manager.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace gpuop::operands {

class CcManagerMetrics {
 public:
  explicit CcManagerMetrics(prometheus::Registry& registry);
  void Observe(const ApplyResult& result);

 private:
  prometheus::Counter& applies_ok_;
  prometheus::Counter& applies_failed_;
  prometheus::Counter& switches_;
  prometheus::Gauge& switch_seconds_;
  prometheus::Family<prometheus::Gauge>& device_mode_;
  absl::Mutex mu_;
  std::map<std::string, prometheus::Gauge*> device_gauges_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gpuop::operands
