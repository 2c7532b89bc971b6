// The validator's decisions from its Node's labels, in-process with a map for the Node: which
// workload the vfio-pci step checks for, and how the cc-manager step waits for
// nvidia.com/cc.capable.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"

#include "operands/validator/node_labels.h"
#include "tests/fixtures/wait_for.h"

namespace gpuop::operands {
namespace {

using ::testing::HasSubstr;

// A Node's labels that the test may change while a step waits; every read is counted.
class Labels {
 public:
  void Set(const std::string& key, const std::string& value) {
    absl::MutexLock lock(&mu_);
    labels_[key] = value;
  }
  void Fail() {
    absl::MutexLock lock(&mu_);
    fail_ = true;
  }
  int reads() {
    absl::MutexLock lock(&mu_);
    return reads_;
  }
  NodeLabelReader Reader() {
    return [this](const std::string& key) -> absl::StatusOr<std::string> {
      absl::MutexLock lock(&mu_);
      ++reads_;
      if (fail_) return absl::UnavailableError("connection refused");
      const auto it = labels_.find(key);
      return it == labels_.end() ? std::string() : it->second;
    };
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::string> labels_ ABSL_GUARDED_BY(mu_);
  bool fail_ ABSL_GUARDED_BY(mu_) = false;
  int reads_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(ChooseWorkload, TheFlagThenTheNodesLabelThenTheDefault) {
  Labels labels;
  EXPECT_EQ(*ChooseWorkload("vm-vgpu", "node-a", labels.Reader(), "container"), "vm-vgpu");
  EXPECT_EQ(labels.reads(), 0);  // The flag decides: the API is not asked.
  EXPECT_EQ(*ChooseWorkload("", "node-a", labels.Reader(), "container"), "container");
  labels.Set("nvidia.com/gpu.workload.config", "vm-passthrough");
  EXPECT_EQ(*ChooseWorkload("", "node-a", labels.Reader(), "container"), "vm-passthrough");
  // No node to read it from: the default, without asking.
  EXPECT_EQ(*ChooseWorkload("", "", labels.Reader(), "container"), "container");
  EXPECT_EQ(labels.reads(), 2);
}

TEST(ChooseWorkload, ALabelThatCannotBeReadIsAnErrorNamingTheNodeNotTheDefault) {
  Labels labels;
  labels.Fail();
  absl::StatusOr<std::string> workload = ChooseWorkload("", "node-a", labels.Reader(), "container");
  EXPECT_TRUE(absl::IsUnavailable(workload.status())) << workload.status();
  EXPECT_EQ(workload.status().message(), "read node node-a: connection refused");
}

TEST(WaitForCcCapable, ALabelAlreadyThereIsTheAnswerEvenFalse) {
  Labels labels;
  labels.Set("nvidia.com/cc.capable", "false");
  absl::StatusOr<std::string> capable =
      WaitForCcCapable("node-a", labels.Reader(), std::chrono::seconds(0), common::StopSignal());
  ASSERT_TRUE(capable.ok()) << capable.status();
  EXPECT_EQ(*capable, "false");
  EXPECT_EQ(labels.reads(), 1);
}

TEST(WaitForCcCapable, NoLabelYetIsNoAnswerYetAndIsReadAgainUntilItComes) {
  Labels labels;
  common::StopSignal stop;
  absl::StatusOr<std::string> capable;
  std::thread step([&] {
    capable = WaitForCcCapable("node-a", labels.Reader(), std::chrono::seconds(0), stop,
                               std::chrono::milliseconds(10));
  });
  EXPECT_TRUE(testing::WaitFor([&] { return labels.reads() >= 3; }));
  labels.Set("nvidia.com/cc.capable", "true");
  step.join();
  ASSERT_TRUE(capable.ok()) << capable.status();
  EXPECT_EQ(*capable, "true");
}

TEST(WaitForCcCapable, TheTimeoutStopAndReadErrorsEndTheWaitEachItsWay) {
  Labels labels;
  absl::StatusOr<std::string> late =
      WaitForCcCapable("node-a", labels.Reader(), std::chrono::milliseconds(50),
                       common::StopSignal(), std::chrono::milliseconds(10));
  EXPECT_TRUE(absl::IsDeadlineExceeded(late.status())) << late.status();
  EXPECT_EQ(late.status().message(),
            "node node-a has no nvidia.com/cc.capable label yet (the CC manager sets it)");

  common::StopSignal stop;
  stop.Stop();
  absl::StatusOr<std::string> stopped =
      WaitForCcCapable("node-a", labels.Reader(), std::chrono::seconds(0), stop);
  EXPECT_TRUE(absl::IsCancelled(stopped.status())) << stopped.status();
  EXPECT_EQ(stopped.status().message(), "");  // A stopped init container has nothing to say.

  labels.Fail();
  absl::StatusOr<std::string> failed =
      WaitForCcCapable("node-a", labels.Reader(), std::chrono::seconds(0), common::StopSignal());
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("read node node-a: "));
}

}  // namespace
}  // namespace gpuop::operands
