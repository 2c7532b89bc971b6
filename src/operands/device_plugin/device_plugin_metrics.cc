#include "operands/device_plugin/device_plugin_metrics.h"

#include <string>

#include "common/metric_families.h"

namespace gpuop::operands {
namespace {

prometheus::MetricFamily Counter(const char* name, const char* help, double value) {
  return common::SingleValueFamily(name, help, prometheus::MetricType::Counter, value);
}

}  // namespace

std::vector<prometheus::MetricFamily> DevicePluginMetrics::Collect() const {
  const DevicePluginStatus status = agent_.Status();
  std::vector<prometheus::MetricFamily> families;
  prometheus::MetricFamily devices = common::MetricFamilyOf(
      "gpuop_device_plugin_devices", "Devices advertised to kubelet, by resource and health.",
      prometheus::MetricType::Gauge);
  prometheus::MetricFamily registered =
      common::MetricFamilyOf("gpuop_device_plugin_registered",
                             "1 while the resource is registered with the running kubelet.",
                             prometheus::MetricType::Gauge);
  for (const auto& [resource, counts] : status.devices) {
    for (const auto& [health, count] :
         {std::pair{kHealthy, counts.first}, std::pair{kUnhealthy, counts.second}}) {
      prometheus::ClientMetric metric;
      metric.label = {{"resource", resource}, {"health", health}};
      metric.gauge.value = count;
      devices.metric.push_back(metric);
    }
  }
  for (const auto& [resource, is_registered] : status.registered) {
    prometheus::ClientMetric metric;
    metric.label = {{"resource", resource}};
    metric.gauge.value = is_registered ? 1 : 0;
    registered.metric.push_back(metric);
  }
  families.push_back(std::move(devices));
  families.push_back(std::move(registered));
  families.push_back(Counter("gpuop_device_plugin_registrations_total",
                             "Register calls kubelet accepted.",
                             static_cast<double>(status.registrations)));
  families.push_back(Counter("gpuop_device_plugin_rescans_total", "Device discoveries.",
                             static_cast<double>(status.rescans)));
  families.push_back(Counter("gpuop_device_plugin_allocations_total", "Allocate calls answered.",
                             static_cast<double>(status.allocations)));
  families.push_back(Counter("gpuop_device_plugin_allocation_errors_total",
                             "Allocate calls refused (unknown or unhealthy devices).",
                             static_cast<double>(status.allocation_errors)));
  return families;
}

}  // namespace gpuop::operands
