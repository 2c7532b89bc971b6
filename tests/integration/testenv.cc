#include "tests/integration/testenv.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>

namespace gpuop::testing {

const std::string& TestEnvState() {
  static const std::string state = [] {
    const char* value = std::getenv("GPUOP_TESTENV_STATE");
    if (value == nullptr || *value == '\0') {
      std::cerr << "GPUOP_TESTENV_STATE is not set: run integration tests through ctest, which "
                   "starts the control plane they need\n";
      std::abort();
    }
    return std::string(value);
  }();
  return state;
}

std::string AdminKubeconfig() { return TestEnvState() + "/kubeconfig"; }
std::string KubectlPath() { return TestEnvState() + "/bin/kubectl"; }

common::ProcessResult Kubectl(const std::vector<std::string>& args, const std::string& stdin_data,
                              const std::string& kubeconfig) {
  std::vector<std::string> argv = {KubectlPath(), "--kubeconfig",
                                   kubeconfig.empty() ? AdminKubeconfig() : kubeconfig};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result =
      common::RunProcess(argv, {.stdin_data = stdin_data, .timeout = std::chrono::seconds(60)});
  if (!result.ok()) {
    ADD_FAILURE() << "kubectl could not run: " << result.status();
    return {};
  }
  return *std::move(result);
}

nlohmann::json KubectlJson(const std::vector<std::string>& args, const std::string& stdin_data) {
  common::ProcessResult result = Kubectl(args, stdin_data);
  if (result.exit_code != 0) {
    ADD_FAILURE() << "kubectl exited " << result.exit_code << ": " << result.err;
    return nullptr;
  }
  nlohmann::json parsed = nlohmann::json::parse(result.out, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    ADD_FAILURE() << "kubectl printed no JSON: " << result.out;
    return nullptr;
  }
  return parsed;
}

std::string UniqueName(const std::string& prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string name = prefix + "-";
  for (int i = 0; i < 6; ++i) name += kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
  return name;
}

}  // namespace gpuop::testing
