#pragma once

// Where every long-running node agent serves /metrics, /healthz and /readyz; the operator's
// DaemonSets point their probes and scrape annotations here.

namespace gpuop::api {

inline constexpr int kAgentMetricsPort = 8080;
inline constexpr char kAgentMetricsAddress[] = ":8080";
inline constexpr char kMetricsPath[] = "/metrics";
inline constexpr char kHealthPath[] = "/healthz";
inline constexpr char kReadinessPath[] = "/readyz";

}  // namespace gpuop::api
