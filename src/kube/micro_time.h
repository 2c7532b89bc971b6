#pragma once

// metav1.MicroTime as the API writes it: RFC 3339 in UTC with microseconds,
// "2026-11-23T11:45:00.123456Z". Leases and events.k8s.io Events use it.

#include <chrono>
#include <string>

namespace gpuop::kube {

std::string FormatMicroTime(std::chrono::system_clock::time_point time);
// wall-clock: MicroTime is a time of day, compared across machines (a Lease's renewTime).
inline std::string MicroTimeNow() { return FormatMicroTime(std::chrono::system_clock::now()); }

}  // namespace gpuop::kube
