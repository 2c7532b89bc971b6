#pragma once

// The device plugin's /metrics: devices by resource and health, registrations with kubelet,
// rescans, allocations. Read from the agent's status at scrape time.

#include <vector>

#include "operands/device_plugin/device_plugin_agent.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace gpuop::operands {

class DevicePluginMetrics : public prometheus::Collectable {
 public:
  explicit DevicePluginMetrics(const DevicePluginAgent& agent) : agent_(agent) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const DevicePluginAgent& agent_;
};

}  // namespace gpuop::operands
