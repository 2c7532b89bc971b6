// The validator's cuda step: the pod it creates, field by field, and the step against an API
// that answers as the API server and the kubelet would, moving the pod along as the test says.

#include "operands/validator/cuda_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "absl/synchronization/mutex.h"

#include "tests/fixtures/test_files.h"
#include "tests/fixtures/wait_for.h"

namespace gpuop::operands {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::IsOk;
using testing::IsOkAndHolds;
using testing::StatusIs;

CudaPodSpec Spec() {
  return {.node_name = "gpu-node-1",
          .ns = "gpu-operator",
          .image = "registry.example/gpuop:1.2.3",
          .image_pull_policy = "IfNotPresent",
          .image_pull_secrets = {"regcred", "mirror"},
          .runtime_class = "nvidia"};
}

TEST(CudaValidatorPod, APinnedOneShotPodRunningTheWorkloadWithEveryGpu) {
  const json pod = CudaValidatorPod(Spec());
  EXPECT_EQ(pod["apiVersion"], "v1");
  EXPECT_EQ(pod["kind"], "Pod");
  EXPECT_EQ(pod["metadata"], json({{"generateName", "nvidia-cuda-validator-"},
                                   {"namespace", "gpu-operator"},
                                   {"labels", {{"app", "nvidia-cuda-validator"}}}}));
  const json& spec = pod["spec"];
  EXPECT_EQ(spec["nodeName"], "gpu-node-1");
  EXPECT_EQ(spec["restartPolicy"], "OnFailure");
  EXPECT_EQ(spec["serviceAccountName"], "nvidia-operator-validator");
  EXPECT_EQ(spec["runtimeClassName"], "nvidia");
  EXPECT_EQ(spec["imagePullSecrets"], json::parse(R"([{"name":"regcred"},{"name":"mirror"}])"));
  EXPECT_EQ(spec["tolerations"],
            json::parse(R"([{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}])"));
  ASSERT_EQ(spec["containers"].size(), 1u);
  const json& container = spec["containers"][0];
  EXPECT_EQ(container["image"], "registry.example/gpuop:1.2.3");
  EXPECT_EQ(container["imagePullPolicy"], "IfNotPresent");
  EXPECT_EQ(container["command"], json::parse(R"(["gpuop","validator","cuda-workload"])"));
  EXPECT_EQ(container["env"], json::parse(R"([{"name":"NVIDIA_VISIBLE_DEVICES","value":"all"}])"));
  EXPECT_EQ(container["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_EQ(container["securityContext"]["capabilities"]["drop"], json::parse(R"(["ALL"])"));
}

TEST(CudaValidatorPod, WhatIsNotGivenIsLeftToTheApiServer) {
  CudaPodSpec spec = Spec();
  spec.image_pull_policy.clear();
  spec.image_pull_secrets.clear();
  spec.runtime_class.clear();
  const json pod = CudaValidatorPod(spec);
  EXPECT_FALSE(pod["spec"].contains("runtimeClassName"));
  EXPECT_FALSE(pod["spec"].contains("imagePullSecrets"));
  EXPECT_FALSE(pod["spec"]["containers"][0].contains("imagePullPolicy"));
  EXPECT_FALSE(pod["metadata"].contains("ownerReferences"));
}

TEST(SplitPullSecrets, ACommaListWithSpacesAndGaps) {
  EXPECT_THAT(SplitPullSecrets(" regcred, mirror,,third "),
              ElementsAre("regcred", "mirror", "third"));
  EXPECT_TRUE(SplitPullSecrets("").empty());
}

TEST(DescribePodProgress, SaysWhereThePodIsStuck) {
  EXPECT_EQ(DescribePodProgress(json::object()), "phase unknown");
  EXPECT_EQ(DescribePodProgress(json::parse(R"({"status": {"phase": "Pending",
      "containerStatuses": [{"name": "cuda-validation",
                             "state": {"waiting": {"reason": "ErrImagePull"}}}]}})")),
            "phase Pending; cuda-validation waiting: ErrImagePull");
  // The container's own words, control bytes and all, are quoted printable.
  EXPECT_EQ(DescribePodProgress(json::parse(R"({"status": {"phase": "Running",
      "containerStatuses": [{"name": "cuda-validation",
                             "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                             "lastState": {"terminated": {"exitCode": 1,
                                                          "message": "no CUDA device\n"}}}]}})")),
            "phase Running; cuda-validation waiting: CrashLoopBackOff; cuda-validation last exited "
            "1: no CUDA device?");
}

// The API server for the step, with the kubelet's part played by the test: pods are created
// Pending, and the test moves them on.
class FakePodApi final : public ValidatorPodApi {
 public:
  absl::StatusOr<json> GetDaemonSet(const std::string& ns, const std::string& name) override {
    absl::MutexLock lock(&mu_);
    if (!daemon_set_.has_value()) {
      return absl::NotFoundError("daemonsets.apps \"" + name + "\" not found in " + ns);
    }
    return *daemon_set_;
  }
  absl::StatusOr<std::vector<std::string>> ListPodNames(const std::string& ns,
                                                        const std::string& app,
                                                        const std::string& node) override {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> names;
    for (const auto& [name, pod] : pods_) {
      if (pod["metadata"]["namespace"] == ns && pod["metadata"]["labels"]["app"] == app &&
          pod["spec"]["nodeName"] == node) {
        names.push_back(name);
      }
    }
    return names;
  }
  absl::Status DeletePod(const std::string& /*ns*/, const std::string& name) override {
    absl::MutexLock lock(&mu_);
    deleted_.push_back(name);
    pods_.erase(name);
    return absl::OkStatus();
  }
  absl::StatusOr<json> CreatePod(const std::string& /*ns*/, const json& pod) override {
    absl::MutexLock lock(&mu_);
    json created = pod;
    const std::string name =
        pod["metadata"]["generateName"].get<std::string>() + "x7k2q" + std::to_string(++made_);
    created["metadata"]["name"] = name;
    created["status"] = new_pods_status_;
    pods_[name] = created;
    last_created_ = name;
    return created;
  }
  absl::StatusOr<json> GetPod(const std::string& /*ns*/, const std::string& name) override {
    absl::MutexLock lock(&mu_);
    ++gets_;
    const auto it = pods_.find(name);
    if (it == pods_.end()) return absl::NotFoundError("pods \"" + name + "\" not found");
    return it->second;
  }

  void AddPod(const json& pod) {
    absl::MutexLock lock(&mu_);
    pods_[pod["metadata"]["name"].get<std::string>()] = pod;
  }
  // What the pods created from now on start with (the kubelet's part, done at once).
  void NewPodsStatus(const json& status) {
    absl::MutexLock lock(&mu_);
    new_pods_status_ = status;
  }
  void SetDaemonSet(const json& daemon_set) {
    absl::MutexLock lock(&mu_);
    daemon_set_ = daemon_set;
  }
  void SetStatus(const json& status) {
    absl::MutexLock lock(&mu_);
    pods_[last_created_]["status"] = status;
  }
  std::string LastCreated() {
    absl::MutexLock lock(&mu_);
    return last_created_;
  }
  json Pod(const std::string& name) {
    absl::MutexLock lock(&mu_);
    return pods_[name];
  }
  int gets() {
    absl::MutexLock lock(&mu_);
    return gets_;
  }
  std::vector<std::string> deleted() {
    absl::MutexLock lock(&mu_);
    return deleted_;
  }

 private:
  absl::Mutex mu_;
  std::optional<json> daemon_set_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, json> pods_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> deleted_ ABSL_GUARDED_BY(mu_);
  std::string last_created_ ABSL_GUARDED_BY(mu_);
  json new_pods_status_ ABSL_GUARDED_BY(mu_) = {{"phase", "Pending"}};
  int made_ ABSL_GUARDED_BY(mu_) = 0;
  int gets_ ABSL_GUARDED_BY(mu_) = 0;
};

class CudaStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = {.pod = Spec(),
                .validations_dir = testing::ScratchDir("cudastep"),
                .attempts = 1000,
                .interval = std::chrono::milliseconds(5)};
  }
  bool Ready() const { return std::filesystem::exists(options_.validations_dir + "/cuda-ready"); }

  CudaValidationOptions options_;
  FakePodApi api_;
  common::StopSignal stop_;
};

TEST_F(CudaStepTest, ReplacesTheNodesEarlierPodAndWaitsForTheNewOneToSucceed) {
  testing::WriteFile(options_.validations_dir + "/cuda-ready", "");
  json earlier = CudaValidatorPod(Spec());
  earlier["metadata"]["name"] = "nvidia-cuda-validator-old01";
  api_.AddPod(earlier);
  json elsewhere = earlier;
  elsewhere["metadata"]["name"] = "nvidia-cuda-validator-other";
  elsewhere["spec"]["nodeName"] = "gpu-node-2";
  api_.AddPod(elsewhere);

  absl::StatusOr<std::string> name;
  std::thread step([&] { name = ValidateCuda(options_, api_, stop_); });
  EXPECT_TRUE(testing::WaitFor([&] { return api_.gets() >= 2; }));
  EXPECT_FALSE(Ready());
  api_.SetStatus({{"phase", "Running"}});
  const int gets = api_.gets();
  EXPECT_TRUE(testing::WaitFor([&] { return api_.gets() >= gets + 2; }));
  EXPECT_FALSE(Ready());
  api_.SetStatus({{"phase", "Succeeded"}});
  step.join();
  EXPECT_THAT(name, IsOkAndHolds(api_.LastCreated()));
  EXPECT_TRUE(Ready());
  // Only this node's earlier pod went.
  EXPECT_THAT(api_.deleted(), ElementsAre("nvidia-cuda-validator-old01"));
}

TEST_F(CudaStepTest, TakesTheValidatorDaemonSetsTolerationsAndOwners) {
  api_.SetDaemonSet(json::parse(R"({
    "metadata": {"name": "nvidia-operator-validator", "ownerReferences": [
      {"apiVersion": "nvidia.com/v1", "kind": "ClusterPolicy", "name": "cluster-policy",
       "uid": "5c1d", "controller": true, "blockOwnerDeletion": true}]},
    "spec": {"template": {"spec": {"tolerations": [{"operator": "Exists"}]}}}})"));
  options_.attempts = 1;
  EXPECT_THAT(ValidateCuda(options_, api_, stop_),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("phase Pending")));
  const json pod = api_.Pod(api_.LastCreated());
  EXPECT_EQ(pod["spec"]["tolerations"], json::parse(R"([{"operator":"Exists"}])"));
  // The owner as it is, but no blockOwnerDeletion, which would need rights on the owner.
  EXPECT_EQ(pod["metadata"]["ownerReferences"], json::parse(R"([{"apiVersion": "nvidia.com/v1",
      "kind": "ClusterPolicy", "name": "cluster-policy", "uid": "5c1d", "controller": true}])"));
}

TEST_F(CudaStepTest, AFailedPodFailsTheStepWithItsMessage) {
  api_.NewPodsStatus({{"phase", "Failed"}, {"message", "Pod was rejected: node(s) had taint"}});
  EXPECT_THAT(ValidateCuda(options_, api_, stop_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("pod gpu-operator/nvidia-cuda-validator-x7k2q1 failed: Pod was "
                                 "rejected: node(s) had taint")));
  EXPECT_FALSE(Ready());
}

TEST_F(CudaStepTest, GivesUpSayingWhereThePodGotTo) {
  options_.attempts = 3;
  api_.NewPodsStatus(json::parse(R"({"phase":"Pending","containerStatuses":[
      {"name":"cuda-validation","state":{"waiting":{"reason":"ImagePullBackOff"}}}]})"));
  EXPECT_THAT(ValidateCuda(options_, api_, stop_),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("has not succeeded after 3 looks: phase Pending; cuda-validation "
                                 "waiting: ImagePullBackOff")));
  EXPECT_EQ(api_.gets(), 2);  // The create's answer was the first look.
  EXPECT_FALSE(Ready());
}

TEST_F(CudaStepTest, APodDeletedUnderneathAndAStopEndTheStep) {
  std::thread deleter([&] {
    ASSERT_TRUE(testing::WaitFor([&] { return !api_.LastCreated().empty(); }));
    ASSERT_THAT(api_.DeletePod("gpu-operator", api_.LastCreated()), IsOk());
  });
  EXPECT_THAT(ValidateCuda(options_, api_, stop_),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not found")));
  deleter.join();

  stop_.Stop();
  EXPECT_THAT(ValidateCuda(options_, api_, stop_),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("stopped while waiting")));
  EXPECT_FALSE(Ready());
}

}  // namespace
}  // namespace gpuop::operands
