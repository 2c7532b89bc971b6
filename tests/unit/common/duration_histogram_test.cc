#include "common/duration_histogram.h"

#include <gtest/gtest.h>

namespace gpuop::common {
namespace {

using std::chrono::milliseconds;

TEST(DurationHistogram, CountsEachObservationInEveryBucketAtOrAboveIt) {
  DurationHistogram histogram;
  histogram.Observe(milliseconds(1));      // On the first bound: le="0.001".
  histogram.Observe(milliseconds(30));     // le="0.05" and up.
  histogram.Observe(milliseconds(20000));  // Above every bound: only the count.
  const DurationHistogram::Snapshot s = histogram.Read();
  EXPECT_EQ(s.cumulative[0], 1u);
  EXPECT_EQ(s.cumulative[3], 1u);  // le="0.025"
  EXPECT_EQ(s.cumulative[4], 2u);  // le="0.05"
  EXPECT_EQ(s.cumulative.back(), 2u);
  EXPECT_EQ(s.count, 3u);
  EXPECT_DOUBLE_EQ(s.sum_seconds, 20.031);
}

TEST(DurationHistogram, ANegativeDurationCountsAsZero) {
  DurationHistogram histogram;
  histogram.Observe(milliseconds(-5));
  EXPECT_EQ(histogram.Read().cumulative[0], 1u);
  EXPECT_EQ(histogram.Read().sum_seconds, 0);
}

}  // namespace
}  // namespace gpuop::common
