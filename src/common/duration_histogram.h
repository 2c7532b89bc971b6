#pragma once

// A latency histogram that hot paths can feed without a lock: fixed bucket bounds (1 ms to
// 10 s, Prometheus' usual spread), atomic counts. Metrics collectors read a Snapshot and turn
// it into their own format; nothing here knows Prometheus.
//
//   DurationHistogram reconciles;
//   reconciles.Observe(clock.Now() - start);  // clock: a common::Clock
//   DurationHistogram::Snapshot s = reconciles.Read();

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace gpuop::common {

class DurationHistogram {
 public:
  static constexpr std::array<double, 12> kBoundsSeconds = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                            0.25,  0.5,   1,    2.5,   5,    10};

  struct Snapshot {
    // cumulative[i]: observations <= kBoundsSeconds[i] (Prometheus' `le` buckets).
    std::array<uint64_t, kBoundsSeconds.size()> cumulative{};
    uint64_t count = 0;
    double sum_seconds = 0;
  };

  void Observe(std::chrono::nanoseconds duration);
  // Consistent enough for metrics: each field is read atomically, not all of them at once.
  Snapshot Read() const;

 private:
  std::array<std::atomic<uint64_t>, kBoundsSeconds.size() + 1> buckets_{};  // Last: over 10 s.
  std::atomic<uint64_t> sum_nanoseconds_{0};
};

}  // namespace gpuop::common
