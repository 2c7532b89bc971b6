// The validator's plugin step: how many GPUs a Node advertises (a table of Nodes as the API
// server returns them), and the wait for the device plugin with a Node that changes between looks.

#include "operands/validator/plugin_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "absl/synchronization/mutex.h"

#include "tests/fixtures/test_files.h"
#include "tests/fixtures/wait_for.h"

namespace gpuop::operands {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using testing::IsOkAndHolds;
using testing::StatusIs;

json NodeWithCapacity(const json& capacity) {
  return {{"metadata", {{"name", "gpu-node-1"}}},
          {"status", {{"capacity", capacity}, {"allocatable", capacity}}}};
}

TEST(AdvertisedGpus, SumsTheGpuAndMigResourcesOnly) {
  const struct {
    json node;
    int64_t gpus;
  } cases[] = {
      {NodeWithCapacity({{"cpu", "64"}, {"memory", "512Gi"}, {"pods", "110"}}), 0},
      {NodeWithCapacity({{"cpu", "64"}, {"nvidia.com/gpu", "8"}}), 8},
      // The plugin registered but found no healthy GPU.
      {NodeWithCapacity({{"nvidia.com/gpu", "0"}}), 0},
      // Mixed MIG strategy, and time-slicing's renamed resource: all of them count.
      {NodeWithCapacity({{"nvidia.com/mig-1g.10gb", "7"}, {"nvidia.com/mig-3g.40gb", "2"}}), 9},
      {NodeWithCapacity({{"nvidia.com/gpu.shared", "4"}}), 4},
      // Look-alikes that are not the device plugin's.
      {NodeWithCapacity({{"nvidia.com/pgpu", "2"}, {"example.com/gpu", "3"}}), 0},
      // What no kubelet writes must not count, nor throw.
      {NodeWithCapacity({{"nvidia.com/gpu", 8}, {"nvidia.com/mig-1g.10gb", "7k"}}), 0},
      {json::object(), 0},
      {json("not a node"), 0},
      {json{{"status", {{"capacity", "none"}}}}, 0},
  };
  for (const auto& c : cases) EXPECT_EQ(AdvertisedGpus(c.node), c.gpus) << c.node.dump();
}

// A Node whose capacity the test changes while the step looks; every read is counted.
class ChangingNode {
 public:
  void Set(const json& capacity) {
    absl::MutexLock lock(&mu_);
    node_ = NodeWithCapacity(capacity);
  }
  void Fail() {
    absl::MutexLock lock(&mu_);
    fail_ = true;
  }
  int reads() {
    absl::MutexLock lock(&mu_);
    return reads_;
  }
  NodeReader Reader() {
    return [this]() -> absl::StatusOr<json> {
      absl::MutexLock lock(&mu_);
      ++reads_;
      if (fail_) return absl::PermissionDeniedError("nodes \"gpu-node-1\" is forbidden");
      return node_;
    };
  }

 private:
  absl::Mutex mu_;
  json node_ ABSL_GUARDED_BY(mu_) = NodeWithCapacity({{"cpu", "64"}});
  bool fail_ ABSL_GUARDED_BY(mu_) = false;
  int reads_ ABSL_GUARDED_BY(mu_) = 0;
};

class PluginStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = {.validations_dir = testing::ScratchDir("plugin"),
                .attempts = 1000,
                .interval = std::chrono::milliseconds(5)};
  }
  bool Ready() const { return std::filesystem::exists(options_.validations_dir + "/plugin-ready"); }

  PluginValidationOptions options_;
  ChangingNode node_;
  common::StopSignal stop_;
};

TEST_F(PluginStepTest, WaitsUntilTheNodeAdvertisesAGpuThenWritesPluginReady) {
  testing::WriteFile(options_.validations_dir + "/plugin-ready", "");  // An earlier run's.
  absl::StatusOr<int64_t> gpus;
  std::thread step([&] { gpus = ValidatePlugin(options_, node_.Reader(), stop_); });
  EXPECT_TRUE(testing::WaitFor([&] { return node_.reads() >= 3; }));
  EXPECT_FALSE(Ready());
  node_.Set({{"cpu", "64"}, {"nvidia.com/gpu", "2"}});
  step.join();
  EXPECT_THAT(gpus, IsOkAndHolds(2));
  EXPECT_TRUE(Ready());
}

TEST_F(PluginStepTest, GivesUpAfterItsLastLook) {
  options_.attempts = 3;
  EXPECT_THAT(ValidatePlugin(options_, node_.Reader(), stop_),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("advertises no nvidia.com/gpu or nvidia.com/mig-* resource "
                                 "after 3 looks")));
  EXPECT_EQ(node_.reads(), 3);
  EXPECT_FALSE(Ready());
}

TEST_F(PluginStepTest, AReadThatFailsEndsTheStepAtOnceAndAStopEndsTheWait) {
  node_.Fail();
  EXPECT_THAT(ValidatePlugin(options_, node_.Reader(), stop_),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("read the node: ")));
  EXPECT_EQ(node_.reads(), 1);

  ChangingNode empty;
  stop_.Stop();
  EXPECT_THAT(ValidatePlugin(options_, empty.Reader(), stop_),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("")));
  EXPECT_EQ(empty.reads(), 1);
  EXPECT_FALSE(Ready());
}

}  // namespace
}  // namespace gpuop::operands
