// tests/e2e/values-sim-node.yaml, the one override file the demo and the e2e suite add to the
// seeds' helm lines, may only fit the chart to the one-node cluster (images built here, the
// simulated node's root). If it set a key the seeds' lines set, the suite would pass on a value
// an admin never gives, and the seeds' lines would not be what was tested.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/manifest.h"

namespace gpuop::op {
namespace {

using nlohmann::json;

// Every key NVIDIA's documented install lines for Kata and Confidential Containers set, and the
// keys that decide what those lines give: the sandbox mode and whether NFD comes with the chart.
constexpr const char* kSeedKeys[] = {
    "/sandboxWorkloads/enabled",
    "/sandboxWorkloads/mode",
    "/kataManager/enabled",
    "/ccManager/enabled",
    "/nfd/enabled",
    "/nfd/nodefeaturerules",
    "/vfioManager/enabled",
    "/kataSandboxDevicePlugin/enabled",
};

json SimNodeValues() {
  const std::filesystem::path path =
      std::filesystem::path(GPUOP_SOURCE_DIR) / "tests/e2e/values-sim-node.yaml";
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<std::vector<json>> documents = kube::ParseManifests(text.str());
  if (!documents.ok() || documents->size() != 1) return json();
  return documents->front();
}

TEST(SimNodeValues, SetNothingTheSeedsLinesSet) {
  const json values = SimNodeValues();
  ASSERT_TRUE(values.is_object()) << "tests/e2e/values-sim-node.yaml is not one YAML mapping";
  for (const char* key : kSeedKeys) {
    EXPECT_FALSE(values.contains(json::json_pointer(key)))
        << "values-sim-node.yaml sets " << key << ", which the seeds' lines decide";
  }
}

TEST(SimNodeValues, PointNfdAtTheImageBuiltHere) {
  // The one NFD value it may set: the image, since the cluster cannot pull registry.k8s.io.
  const json values = SimNodeValues();
  EXPECT_EQ(values.value(json::json_pointer("/node-feature-discovery/image/repository"), ""),
            "localhost/gpuop-e2e/node-feature-discovery");
}

}  // namespace
}  // namespace gpuop::op
