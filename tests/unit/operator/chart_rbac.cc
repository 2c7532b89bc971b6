#include "tests/unit/operator/chart_rbac.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "api/cluster_policy.h"
#include "kube/manifest.h"
#include "operator/embedded_manifests.h"
#include "operator/operand_renderer.h"
#include "operator/operand_states.h"

namespace gpuop::op::chart {
namespace {

using nlohmann::json;

std::filesystem::path TemplatesDir() {
  return std::filesystem::path(GPUOP_SOURCE_DIR) / "deployments/helm/gpuop/templates";
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream file(path);
  EXPECT_TRUE(file.good()) << path;
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace

std::vector<json> TemplateObjects(std::string_view relative_path) {
  const std::filesystem::path path = TemplatesDir() / relative_path;
  std::istringstream file(ReadFile(path));
  const std::string release_namespace = "{{ .Release.Namespace }}";
  std::string text;
  for (std::string line; std::getline(file, line);) {
    for (size_t at = line.find(release_namespace); at != std::string::npos;
         at = line.find(release_namespace)) {
      line.replace(at, release_namespace.size(), kNamespace);
    }
    if (line.find("{{") != std::string::npos) continue;
    text += line + "\n";
  }
  absl::StatusOr<std::vector<json>> objects = kube::ParseManifests(text);
  EXPECT_TRUE(objects.ok()) << path << ": " << objects.status();
  return objects.ok() ? *objects : std::vector<json>{};
}

std::vector<std::string> TemplatesWithRoles() {
  static const std::regex kRoleKind(R"(^\s*kind:\s*(Cluster)?Role\s*$)");
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(TemplatesDir())) {
    if (!entry.is_regular_file() || entry.path().extension() != ".yaml") continue;
    std::istringstream file(ReadFile(entry.path()));
    for (std::string line; std::getline(file, line);) {
      if (std::regex_match(line, kRoleKind)) {
        paths.push_back(entry.path().lexically_relative(TemplatesDir()).generic_string());
        break;
      }
    }
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::vector<json> RenderedOperandObjects() {
  std::vector<json> objects;
  std::set<std::string> enabled;
  for (const char* mode : {"kata", "kubevirt"}) {
    json object = json::parse(R"({
      "metadata": {"name": "cluster-policy", "uid": "uid"},
      "spec": {
        "sandboxWorkloads": {"enabled": true},
        "validator": {"enabled": true}, "vfioManager": {"enabled": true},
        "nodeStatusExporter": {"enabled": true},
        "ccManager": {"enabled": true}, "kataSandboxDevicePlugin": {"enabled": true},
        "sandboxDevicePlugin": {"enabled": true, "repository": "nvcr.io/nvidia",
                                "image": "kubevirt-gpu-device-plugin", "version": "v1.6.0"},
        "kataManager": {"enabled": true, "config": {"runtimeClasses": [
          {"name": "kata-qemu-nvidia-gpu",
           "artifacts": {"url": "registry.local/kata:1", "pullSecret": "registry-cred"}}]}},
        "nfd": {"nodefeaturerules": true}}})");
    object["spec"]["sandboxWorkloads"]["mode"] = mode;
    absl::StatusOr<api::ClusterPolicy> policy = api::ParseClusterPolicy(object);
    EXPECT_TRUE(policy.ok()) << policy.status();
    if (!policy.ok()) continue;
    const RenderContext context{.operator_namespace = kNamespace,
                                .gpuop_image = "registry.local/gpuop:test"};
    for (RenderedState& state : RenderOperands(*policy, context, EmbeddedManifests())) {
      EXPECT_TRUE(state.error.ok()) << state.name << ": " << state.error;
      if (state.enabled) enabled.insert(state.name);
      for (json& rendered : state.objects) objects.push_back(std::move(rendered));
    }
  }
  for (const OperandState& state : OperandStates()) {
    EXPECT_TRUE(enabled.contains(std::string(state.name))) << state.name << " never rendered";
  }
  return objects;
}

}  // namespace gpuop::op::chart
