#include "operands/vfio_manager/vfio_manager_metrics.h"

namespace gpuop::operands {
namespace {

prometheus::Family<prometheus::Gauge>& Devices(prometheus::Registry& registry) {
  return prometheus::BuildGauge()
      .Name("gpuop_vfio_manager_devices")
      .Help("PCI functions the VFIO manager looks after (GPUs and their companions), by state.")
      .Register(registry);
}

prometheus::Family<prometheus::Counter>& Binds(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("gpuop_vfio_manager_binds_total")
      .Help("Attempts to move a function to a vfio driver, by result.")
      .Register(registry);
}

}  // namespace

VfioManagerMetrics::VfioManagerMetrics(prometheus::Registry& registry)
    : on_vfio_(Devices(registry).Add({{"state", "on_vfio"}})),
      failed_(Devices(registry).Add({{"state", "failed"}})),
      binds_ok_(Binds(registry).Add({{"result", "ok"}})),
      binds_error_(Binds(registry).Add({{"result", "error"}})),
      passes_(prometheus::BuildCounter()
                  .Name("gpuop_vfio_manager_passes_total")
                  .Help("Scans of the PCI tree (at start, on uevents, on resync).")
                  .Register(registry)
                  .Add({})),
      ready_(prometheus::BuildGauge()
                 .Name("gpuop_vfio_manager_ready")
                 .Help("1 while every selected device is on vfio and vfio-pci-ready is written.")
                 .Register(registry)
                 .Add({})) {}

void VfioManagerMetrics::Observe(const VfioPassReport& report) {
  int on_vfio = 0;
  int failed = 0;
  for (const host::DeviceBinding& binding : report.bindings) {
    switch (binding.outcome) {
      case host::DeviceBinding::Outcome::kAlreadyBound:
        ++on_vfio;
        break;
      case host::DeviceBinding::Outcome::kBound:
        ++on_vfio;
        binds_ok_.Increment();
        break;
      case host::DeviceBinding::Outcome::kFailed:
        ++failed;
        binds_error_.Increment();
        break;
    }
  }
  on_vfio_.Set(on_vfio);
  failed_.Set(failed);
  passes_.Increment();
  ready_.Set(report.Ready() ? 1 : 0);
}

}  // namespace gpuop::operands
