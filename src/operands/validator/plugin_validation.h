#pragma once

// The validator's plugin step (NVIDIA GPU Operator v26.7, COMPONENT=plugin in
// cmd/nvidia-validator/main.go): wait until the node advertises GPUs, which it does only once the
// device plugin has registered with the kubelet and listed healthy devices; then plugin-ready.
// NVIDIA's can also run a pod that asks for a GPU (WITH_WORKLOAD); the operator turns that off,
// and gpuop's step has none: the cuda step has already run a GPU workload on the node.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

#include "api/paths.h"
#include "common/stop_signal.h"

namespace gpuop::operands {

// How many GPUs a Node object advertises: the sum of its status.capacity entries whose name
// starts with nvidia.com/gpu (nvidia.com/gpu.shared too, as NVIDIA counts) or nvidia.com/mig-.
// A quantity that is not a whole number counts as none (the kubelet writes device counts as
// plain integers).
int64_t AdvertisedGpus(const nlohmann::json& node);

// This step's Node as the API has it now, or why it cannot say.
using NodeReader = std::function<absl::StatusOr<nlohmann::json>()>;

struct PluginValidationOptions {
  std::string validations_dir = api::kValidationsDir;
  // NVIDIA's: 30 looks, 5 s apart.
  int attempts = 30;
  std::chrono::milliseconds interval = std::chrono::seconds(5);
};

// Removes plugin-ready, reads the Node until it advertises a GPU (at most `attempts` reads,
// `interval` apart), then writes plugin-ready and returns the count. DeadlineExceeded when the
// last read still shows none; a read's error at once, as NVIDIA's (the REST client has already
// retried what it could); Cancelled when `stop` fires.
absl::StatusOr<int64_t> ValidatePlugin(const PluginValidationOptions& options,
                                       const NodeReader& read_node, const common::StopSignal& stop);

}  // namespace gpuop::operands
