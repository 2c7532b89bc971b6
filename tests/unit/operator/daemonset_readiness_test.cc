#include "operator/daemonset_readiness.h"

#include <gtest/gtest.h>

namespace gpuop::op {
namespace {

struct Case {
  const char* name;
  DaemonSetView view;
  const char* reason;  // nullptr: rolled out.
};

TEST(NotRolledOutReason, FollowsTheRolloutRule) {
  const Case cases[] = {
      {"all updated and available",
       {.generation = 2, .observed_generation = 2, .desired = 3, .updated = 3, .available = 3},
       nullptr},
      {"no node to run on", {.generation = 1, .observed_generation = 1}, nullptr},
      {"new spec not yet seen",
       {.generation = 3, .observed_generation = 2, .desired = 3, .updated = 3, .available = 3},
       "generation 3 not yet seen by the DaemonSet controller"},
      {"fresh, no status yet", {.generation = 1}, "generation 1 not yet seen"},
      {"rolling",
       {.generation = 2, .observed_generation = 2, .desired = 3, .updated = 1, .available = 3},
       "1 of 3 pods updated"},
      {"a pod not available",
       {.generation = 2,
        .observed_generation = 2,
        .desired = 3,
        .updated = 3,
        .available = 2,
        .unavailable = 1},
       "2 of 3 pods available"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::optional<std::string> reason = NotRolledOutReason(c.view);
    if (c.reason == nullptr) {
      EXPECT_FALSE(reason.has_value()) << *reason;
    } else {
      ASSERT_TRUE(reason.has_value());
      EXPECT_NE(reason->find(c.reason), std::string::npos) << *reason;
    }
  }
}

}  // namespace
}  // namespace gpuop::op
