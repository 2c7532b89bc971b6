#pragma once

// Reaches the control plane that the control_plane.up ctest fixture started (see
// tools/testenv/control-plane): its kubeconfig and the pinned upstream kubectl.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/subprocess.h"

namespace gpuop::testing {

// The fixture's state folder, from GPUOP_TESTENV_STATE. Aborts the test binary when unset: an
// integration test without its control plane must not pass by doing nothing.
const std::string& TestEnvState();
std::string AdminKubeconfig();
std::string KubectlPath();

// Runs the pinned kubectl against `kubeconfig` (the admin one unless given).
common::ProcessResult Kubectl(const std::vector<std::string>& args,
                              const std::string& stdin_data = "",
                              const std::string& kubeconfig = "");

// Runs kubectl, expects exit 0 and parses stdout as JSON; records a test failure (and returns
// null) otherwise.
nlohmann::json KubectlJson(const std::vector<std::string>& args,
                           const std::string& stdin_data = "");

// `prefix` plus a random suffix, so reruns against a long-lived dev cluster do not collide.
std::string UniqueName(const std::string& prefix);

}  // namespace gpuop::testing
