#pragma once

// Whether this node's kubelet answers the Pod Resources API's Get, which Kata's shim calls at
// sandbox creation to learn which GPUs the pod was given before it boots the VM (cold-plug).
// The gate KubeletPodResourcesGet was alpha (off) from 1.27 and is beta and on from 1.34; with
// it off the sandbox fails with "PodResources API Get method disabled". Read from the running
// kubelet: its command line (--feature-gates, --config, --root-dir), its config file's
// featureGates, and its version (`kubelet --version` of the binary it runs).

#include <optional>
#include <string>

#include "doctor/doctor_checks.h"
#include "host/host_root.h"

namespace gpuop::doctor {

struct KubeletVersion {
  int major = 0;
  int minor = 0;
  std::string text;  // "v1.35.4"
};

// "Kubernetes v1.35.4" (what `kubelet --version` prints) or "v1.33.0-eks-1"; nullopt otherwise.
std::optional<KubeletVersion> ParseKubeletVersion(const std::string& output);

// The gate's value in a --feature-gates list ("A=true,B=false"); nullopt when it is not named,
// or named with a value that is not a bool.
std::optional<bool> GateInFlagList(const std::string& list, const std::string& gate);

DoctorCheck PodResourcesGet(const host::HostRoot& root);

}  // namespace gpuop::doctor
