#pragma once

// Small edits of a pod spec held as JSON (a DaemonSet's spec.template.spec), by name as the
// Kubernetes API keys them: containers and volumes by `name`, env by `name`, mounts by
// `mountPath`. The per-operand transforms (container_operands.h) are written with these so that
// each rule reads as the one change it makes. None of them throws on an odd shape: a list that
// is not a list is taken as empty (and replaced when something is added to it).
//
//   if (json* ctr = FindNamed(pod, "containers", "nvidia-device-plugin")) SetEnv(*ctr, "A", "1");

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

namespace gpuop::op {

// The entry of pod[list] ("containers", "initContainers", "volumes") whose name is `name`;
// nullptr when there is none.
nlohmann::json* FindNamed(nlohmann::json& pod, const char* list, std::string_view name);

// Takes out the entries of pod[list] named `name`; true when one was there.
bool RemoveNamed(nlohmann::json& pod, const char* list, std::string_view name);

// Replaces the entry of pod[list] with `entry`'s name, or appends `entry`.
void SetNamed(nlohmann::json& pod, const char* list, nlohmann::json entry);

// The value of the container's variable `name`; "" when it is unset or not a plain value.
std::string EnvValue(const nlohmann::json& container, std::string_view name);

// Sets the variable to `value` (dropping a valueFrom it had), or appends it.
void SetEnv(nlohmann::json& container, std::string_view name, std::string_view value);

// Sets or appends each {name, ...} entry of `variables` as given (NVIDIA's env lists).
void SetEnvList(nlohmann::json& container, const nlohmann::json& variables);

void EraseEnv(nlohmann::json& container, std::string_view name);

// Replaces the mount at `mount`'s mountPath, or appends `mount`.
void SetMount(nlohmann::json& container, nlohmann::json mount);

// Points every mount of volume `volume` in the container at `path`.
void MoveMounts(nlohmann::json& container, std::string_view volume, std::string_view path);

// Sets the host path of the pod's hostPath volume `volume`; false when there is no such volume.
bool SetHostPath(nlohmann::json& pod, std::string_view volume, std::string_view path);

// Adds {name} to the pod's imagePullSecrets for each secret it lacks.
void AddPullSecrets(nlohmann::json& pod, const std::vector<std::string>& secrets);

// `value` as a hostPath volume's path or a mount path: absolute and without "..", which the API
// server refuses, returned without repeated or trailing '/'. InvalidArgument naming `field`
// (e.g. "spec.toolkit.installDir") otherwise.
absl::StatusOr<std::string> HostPathValue(std::string_view value, std::string_view field);

}  // namespace gpuop::op
