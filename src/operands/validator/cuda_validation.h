#pragma once

// The validator's cuda step (NVIDIA GPU Operator v26.7, COMPONENT=cuda in
// cmd/nvidia-validator/main.go): prove that an ordinary pod on this node can use the GPUs by
// running one. The step creates pod nvidia-cuda-validator-<random> on its node, runs it to
// completion (60 looks, 5 s apart), then writes cuda-ready. The pod runs `gpuop validator
// cuda-workload` (cuda_workload.h), in gpuop's image, under the RuntimeClass the validator runs
// under; an earlier pod of the step on the node goes first.
//
// Differs from NVIDIA's: NVIDIA's pod runs CUDA's vectorAdd sample from its validator image;
// gpuop's runs a copy to every GPU and back through the CUDA driver API, so the image needs no
// CUDA toolkit. The pod is built here, not read from a manifest file in the image.
//
//   KubeValidatorPodApi api(*client);
//   absl::StatusOr<std::string> pod = ValidateCuda(options, api, stop);

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

#include "api/paths.h"
#include "common/stop_signal.h"
#include "kube/rest_client.h"

namespace gpuop::operands {

// The pod's label and name prefix, the ServiceAccount it runs as, and the DaemonSet it takes its
// owner and tolerations from: NVIDIA's names.
inline constexpr char kCudaValidatorApp[] = "nvidia-cuda-validator";
inline constexpr char kOperatorValidator[] = "nvidia-operator-validator";

struct CudaPodSpec {
  std::string node_name;
  std::string ns;
  std::string image;
  std::string image_pull_policy;  // Empty: the API server's default.
  std::vector<std::string> image_pull_secrets;
  std::string runtime_class;  // Empty: the cluster's default runtime.
  // The validator DaemonSet's, when there is one; else tolerating the nvidia.com/gpu taint.
  nlohmann::json tolerations = nlohmann::json::array(
      {{{"key", "nvidia.com/gpu"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}});
  // The validator DaemonSet's owners (the ClusterPolicy), so that the pod goes with them.
  nlohmann::json owner_references = nlohmann::json::array();
};

// "a, b,,c" as ["a", "b", "c"]: VALIDATOR_IMAGE_PULL_SECRETS's comma list.
std::vector<std::string> SplitPullSecrets(std::string_view list);

// The pod, ready to create: generateName nvidia-cuda-validator-, label app=nvidia-cuda-validator,
// pinned to the node, restartPolicy OnFailure, one container running `gpuop validator
// cuda-workload` with NVIDIA_VISIBLE_DEVICES=all and no privilege.
nlohmann::json CudaValidatorPod(const CudaPodSpec& spec);

// What the step asks the API server, apart so that tests can answer in its place.
class ValidatorPodApi {
 public:
  virtual ~ValidatorPodApi() = default;
  // NotFound when there is no such DaemonSet.
  virtual absl::StatusOr<nlohmann::json> GetDaemonSet(const std::string& ns,
                                                      const std::string& name) = 0;
  // The names of the pods in `ns` labelled app=`app` on `node`.
  virtual absl::StatusOr<std::vector<std::string>> ListPodNames(const std::string& ns,
                                                                const std::string& app,
                                                                const std::string& node) = 0;
  // OK when the pod is gone already.
  virtual absl::Status DeletePod(const std::string& ns, const std::string& name) = 0;
  virtual absl::StatusOr<nlohmann::json> CreatePod(const std::string& ns,
                                                   const nlohmann::json& pod) = 0;
  virtual absl::StatusOr<nlohmann::json> GetPod(const std::string& ns, const std::string& name) = 0;
};

// The API server's answers, through `client` (which must outlive this).
class KubeValidatorPodApi final : public ValidatorPodApi {
 public:
  explicit KubeValidatorPodApi(kube::RestClient& client) : client_(client) {}
  absl::StatusOr<nlohmann::json> GetDaemonSet(const std::string& ns,
                                              const std::string& name) override;
  absl::StatusOr<std::vector<std::string>> ListPodNames(const std::string& ns,
                                                        const std::string& app,
                                                        const std::string& node) override;
  absl::Status DeletePod(const std::string& ns, const std::string& name) override;
  absl::StatusOr<nlohmann::json> CreatePod(const std::string& ns,
                                           const nlohmann::json& pod) override;
  absl::StatusOr<nlohmann::json> GetPod(const std::string& ns, const std::string& name) override;

 private:
  kube::RestClient& client_;
};

struct CudaValidationOptions {
  CudaPodSpec pod;  // Its tolerations and owners are replaced by the DaemonSet's when found.
  std::string validations_dir = api::kValidationsDir;
  // NVIDIA's: 60 looks, 5 s apart.
  int attempts = 60;
  std::chrono::milliseconds interval = std::chrono::seconds(5);
};

// A pod's state in a few words, for messages: "phase Pending; cuda-validation waiting:
// ErrImagePull", "phase Running; cuda-validation last exited 1: no CUDA device".
std::string DescribePodProgress(const nlohmann::json& pod);

// The whole step: removes cuda-ready, deletes the node's earlier validation pods, creates one,
// waits for it to succeed, writes cuda-ready. The created pod's name. FailedPrecondition with the
// pod's own message when it fails; DeadlineExceeded, saying where the pod got to, when it has not
// succeeded after the last look; an API error at once; Cancelled when `stop` fires.
absl::StatusOr<std::string> ValidateCuda(const CudaValidationOptions& options, ValidatorPodApi& api,
                                         const common::StopSignal& stop);

}  // namespace gpuop::operands
