#include "operands/kata_manager/kata_manager_metrics.h"

namespace gpuop::operands {
namespace {

prometheus::Family<prometheus::Counter>& Passes(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("gpuop_kata_manager_passes_total")
      .Help("Passes over the runtime classes (at start, on a config change, on resync), by result.")
      .Register(registry);
}

prometheus::Family<prometheus::Gauge>& Classes(prometheus::Registry& registry) {
  return prometheus::BuildGauge()
      .Name("gpuop_kata_manager_runtime_classes")
      .Help("Runtime classes of the config in the last pass, by state.")
      .Register(registry);
}

prometheus::Counter& Counter(prometheus::Registry& registry, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace

KataManagerMetrics::KataManagerMetrics(prometheus::Registry& registry)
    : passes_ok_(Passes(registry).Add({{"result", "ok"}})),
      passes_failed_(Passes(registry).Add({{"result", "failed"}})),
      installed_(Classes(registry).Add({{"state", "installed"}})),
      failed_(Classes(registry).Add({{"state", "failed"}})),
      skipped_(Classes(registry).Add({{"state", "skipped"}})),
      downloads_(
          Counter(registry, "gpuop_kata_manager_downloads_total",
                  "Runtime class artifacts downloaded (a new digest, or a broken install).")),
      downloaded_bytes_(Counter(registry, "gpuop_kata_manager_downloaded_bytes_total",
                                "Bytes of the artifact files downloaded.")),
      containerd_updates_(Counter(registry, "gpuop_kata_manager_containerd_updates_total",
                                  "Changes written to containerd's drop-in or imports.")),
      pass_seconds_(prometheus::BuildGauge()
                        .Name("gpuop_kata_manager_pass_duration_seconds")
                        .Help("How long the last pass took, downloads included.")
                        .Register(registry)
                        .Add({})) {}

void KataManagerMetrics::Observe(const KataPassReport& report,
                                 std::chrono::steady_clock::duration took) {
  (report.Ok() ? passes_ok_ : passes_failed_).Increment();
  installed_.Set(static_cast<double>(report.installed.size()));
  failed_.Set(static_cast<double>(report.failures.size()));
  skipped_.Set(static_cast<double>(report.skipped.size()));
  for (const InstalledArtifact& installed : report.installed) {
    if (!installed.downloaded) continue;
    downloads_.Increment();
    for (const oci::PulledFile& file : installed.files) {
      downloaded_bytes_.Increment(static_cast<double>(file.size));
    }
  }
  if (report.containerd_changed) containerd_updates_.Increment();
  pass_seconds_.Set(std::chrono::duration<double>(took).count());
}

}  // namespace gpuop::operands
