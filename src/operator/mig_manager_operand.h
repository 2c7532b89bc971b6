#pragma once

// The MIG manager's part of the container path, as NVIDIA GPU Operator v26.7 sets it from the
// ClusterPolicy (controllers/object_controls.go, TransformMigManager): which ConfigMap of MIG
// layouts its pod mounts and how it is told (CONFIG_FILE for the admin's own, DEFAULT_CONFIG_FILE
// for the operator's default, which NVIDIA's manager uses only when it cannot generate layouts
// from the hardware), the host GPU clients' ConfigMap, and CDI. The common operand fields and the
// RuntimeClass are applied before (operand_renderer.cc, container_operands.cc).
//
//   if (!MigManagerWantsConfigMap(name, policy)) continue;  // a default the admin replaced
//   GPUOP_RETURN_IF_ERROR(TransformMigManagerPod(pod, policy));

#include <string_view>

#include "absl/status/status.h"
#include <nlohmann/json.hpp>

#include "api/cluster_policy.h"

namespace gpuop::op {

// The operator's default ConfigMaps (state-mig-manager) and the key each holds.
inline constexpr char kDefaultMigConfigMap[] = "default-mig-parted-config";
inline constexpr char kMigConfigKey[] = "config.yaml";
inline constexpr char kDefaultGpuClientsConfigMap[] = "default-gpu-clients";

// The ConfigMap of MIG layouts the manager reads under `policy`.
std::string_view MigConfigMapName(const api::ClusterPolicy& policy);

// False for a default ConfigMap of the state that the policy replaced with the admin's own
// (NVIDIA's operator does not create those); true for every other ConfigMap.
bool MigManagerWantsConfigMap(std::string_view name, const api::ClusterPolicy& policy);

// The MIG manager DaemonSet's pod spec. Internal when the pod lacks its main container or its
// config volumes; InvalidArgument naming the field for a relative toolkit.installDir.
absl::Status TransformMigManagerPod(nlohmann::json& pod, const api::ClusterPolicy& policy);

}  // namespace gpuop::op
