#include "operands/cc_manager/cc_manager_metrics.h"

#include "absl/strings/str_cat.h"

namespace gpuop::operands {
namespace {

prometheus::Family<prometheus::Counter>& Applies(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("gpuop_cc_manager_applies_total")
      .Help("Applies of the node's CC mode (at start and on each label change), by result.")
      .Register(registry);
}

}  // namespace

CcManagerMetrics::CcManagerMetrics(prometheus::Registry& registry)
    : applies_ok_(Applies(registry).Add({{"result", "ok"}})),
      applies_failed_(Applies(registry).Add({{"result", "failed"}})),
      switches_(prometheus::BuildCounter()
                    .Name("gpuop_cc_manager_switches_total")
                    .Help("Applies that switched (reset) devices.")
                    .Register(registry)
                    .Add({})),
      switch_seconds_(prometheus::BuildGauge()
                          .Name("gpuop_cc_manager_switch_duration_seconds")
                          .Help("How long the last switch took, for all devices together.")
                          .Register(registry)
                          .Add({})),
      device_mode_(prometheus::BuildGauge()
                       .Name("gpuop_cc_manager_device_mode")
                       .Help("1 for the CC mode each GPU or NVSwitch is in now.")
                       .Register(registry)) {}

void CcManagerMetrics::Observe(const ApplyResult& result) {
  (result.error.empty() ? applies_ok_ : applies_failed_).Increment();
  if (result.switched) {
    switches_.Increment();
    switch_seconds_.Set(static_cast<double>(result.switch_duration.count()) / 1000.0);
  }
  absl::MutexLock lock(&mu_);
  for (const auto& [device, mode] : result.device_modes) {
    const std::string key = absl::StrCat(device, "/", mode);
    if (device_gauges_.contains(key)) continue;
    // A device has one mode at a time: the series of its old one goes.
    for (auto it = device_gauges_.begin(); it != device_gauges_.end();) {
      if (it->first.starts_with(device + "/")) {
        device_mode_.Remove(it->second);
        it = device_gauges_.erase(it);
      } else {
        ++it;
      }
    }
    prometheus::Gauge& gauge = device_mode_.Add({{"device", device}, {"mode", mode}});
    gauge.Set(1);
    device_gauges_[key] = &gauge;
  }
}

}  // namespace gpuop::operands
