#pragma once

// The kata manager's Prometheus metrics, updated from each pass's report:
//   gpuop_kata_manager_passes_total{result="ok"|"failed"}  passes since start
//   gpuop_kata_manager_runtime_classes{state="installed"|"failed"|"skipped"}  in the last pass
//   gpuop_kata_manager_downloads_total                     artifacts (re)downloaded
//   gpuop_kata_manager_downloaded_bytes_total              their bytes
//   gpuop_kata_manager_containerd_updates_total            drop-in/import changes written
//   gpuop_kata_manager_pass_duration_seconds               the last pass's length

#include <chrono>

#include "operands/kata_manager/kata_manager.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace gpuop::operands {

class KataManagerMetrics {
 public:
  explicit KataManagerMetrics(prometheus::Registry& registry);
  void Observe(const KataPassReport& report, std::chrono::steady_clock::duration took);

 private:
  prometheus::Counter& passes_ok_;
  prometheus::Counter& passes_failed_;
  prometheus::Gauge& installed_;
  prometheus::Gauge& failed_;
  prometheus::Gauge& skipped_;
  prometheus::Counter& downloads_;
  prometheus::Counter& downloaded_bytes_;
  prometheus::Counter& containerd_updates_;
  prometheus::Gauge& pass_seconds_;
};

}  // namespace gpuop::operands
