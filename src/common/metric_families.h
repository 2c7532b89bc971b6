#pragma once

// Prometheus metric families built at scrape time, for collectors that read counters kept
// elsewhere (a controller's stats, an agent's status) instead of owning prometheus-cpp metrics.
// Header-only; users link prometheus-cpp (gpuop::metrics does).

#include "prometheus/client_metric.h"
#include "prometheus/metric_family.h"
#include "prometheus/metric_type.h"

namespace gpuop::common {

// A family with no samples yet.
inline prometheus::MetricFamily MetricFamilyOf(const char* name, const char* help,
                                               prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  return family;
}

// A family of one unlabelled counter or gauge.
inline prometheus::MetricFamily SingleValueFamily(const char* name, const char* help,
                                                  prometheus::MetricType type, double value) {
  prometheus::MetricFamily family = MetricFamilyOf(name, help, type);
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(metric);
  return family;
}

}  // namespace gpuop::common
