#pragma once

// The VFIO manager's Prometheus metrics, updated from each pass's report:
//   gpuop_vfio_manager_devices{state="on_vfio"|"failed"}  devices selected or companions, now
//   gpuop_vfio_manager_binds_total{result="ok"|"error"}   bind attempts since start
//   gpuop_vfio_manager_passes_total                        scans of the PCI tree
//   gpuop_vfio_manager_ready                               1 while vfio-pci-ready holds

#include <memory>

#include "operands/vfio_manager/vfio_manager.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace gpuop::operands {

class VfioManagerMetrics {
 public:
  explicit VfioManagerMetrics(prometheus::Registry& registry);
  void Observe(const VfioPassReport& report);

 private:
  prometheus::Gauge& on_vfio_;
  prometheus::Gauge& failed_;
  prometheus::Counter& binds_ok_;
  prometheus::Counter& binds_error_;
  prometheus::Counter& passes_;
  prometheus::Gauge& ready_;
};

}  // namespace gpuop::operands
