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

json ValuesFile(const std::string& relative_path) {
  const std::filesystem::path path = std::filesystem::path(GPUOP_SOURCE_DIR) / relative_path;
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<std::vector<json>> documents = kube::ParseManifests(text.str());
  if (!documents.ok() || documents->size() != 1) return json();
  return documents->front();
}

json SimNodeValues() { return ValuesFile("tests/e2e/values-sim-node.yaml"); }

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

TEST(SimNodeValues, LeaveTheImageToTheRelease) {
  // The demo and the suite install what scripts/release pushed: the chart's own default image,
  // the release's by digest, pulled by the node. An image set here would test another one.
  const json values = SimNodeValues();
  for (const char* key : {"/operator/repository", "/operator/image", "/operator/version",
                          "/operator/imagePullPolicy"}) {
    EXPECT_FALSE(values.contains(json::json_pointer(key))) << "values-sim-node.yaml sets " << key;
  }
}

TEST(SimNodeValues, RestateTheChartsRuntimeClassesWithOnlyTheirArtifactsMoved) {
  // `kubectl get runtimeclass` on the demo must show what the seeds show: the chart's default
  // classes, same names and node selectors, their artifacts in the cluster's registry.
  const json chart = ValuesFile("deployments/helm/gpuop/values.yaml");
  const json values = SimNodeValues();
  const json::json_pointer classes("/kataManager/config/runtimeClasses");
  ASSERT_TRUE(chart.contains(classes) && values.contains(classes));
  const json& defaults = chart.at(classes);
  const json& restated = values.at(classes);
  ASSERT_EQ(restated.size(), defaults.size());
  ASSERT_EQ(defaults.size(), 2u);
  for (size_t i = 0; i < defaults.size(); ++i) {
    EXPECT_EQ(restated[i].value("name", ""), defaults[i].value("name", ""));
    EXPECT_EQ(restated[i].value("nodeSelector", json::object()),
              defaults[i].value("nodeSelector", json::object()))
        << defaults[i].value("name", "");
    const std::string url = restated[i].value(json::json_pointer("/artifacts/url"), std::string());
    EXPECT_TRUE(url.starts_with("198.18.0.1:5100/")) << url << ": not the cluster's registry";
    EXPECT_NE(url, defaults[i].value(json::json_pointer("/artifacts/url"), std::string()));
  }
}

}  // namespace
}  // namespace gpuop::op
