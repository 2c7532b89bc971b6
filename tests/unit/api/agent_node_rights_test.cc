// The node agents' rights table (src/api/agent_node_rights.cc) against the two places that must
// agree with it: the chart's generated copy, which the admission policy reads, and the agents'
// manifests, whose ServiceAccounts and RBAC rules it speaks for. The integration test
// tests/integration/operator/agent_admission_policy_test.cc proves the policy on a real server.

#include "api/agent_node_rights.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "api/labels.h"
#include "api/paused_operands.h"
#include "kube/manifest.h"

namespace gpuop::api {
namespace {

using nlohmann::json;

const std::string kChartTemplate =
    std::string(GPUOP_SOURCE_DIR) + "/deployments/helm/gpuop/templates/_agent_node_rights.tpl";

std::string ReadText(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::vector<json> ObjectsIn(const std::filesystem::path& path) {
  absl::StatusOr<std::vector<json>> objects = kube::ParseManifests(ReadText(path.string()));
  EXPECT_TRUE(objects.ok()) << path << ": " << objects.status();
  return objects.ok() ? *objects : std::vector<json>{};
}

// Per agent ServiceAccount in deployments/operands: the verbs its ClusterRole grants on nodes.
std::map<std::string, std::set<std::string>> NodeVerbsOfEachAgent() {
  std::map<std::string, std::set<std::string>> verbs_of;
  const std::filesystem::path operands = std::string(GPUOP_SOURCE_DIR) + "/deployments/operands";
  for (const auto& state : std::filesystem::directory_iterator(operands)) {
    const std::filesystem::path account_file = state.path() / "0100_service_account.yaml";
    if (!std::filesystem::exists(account_file)) continue;
    std::map<std::string, std::string> account_of_role;  // From the ClusterRoleBindings.
    std::vector<json> objects;
    for (const auto& file : std::filesystem::directory_iterator(state.path())) {
      for (json& object : ObjectsIn(file.path())) objects.push_back(std::move(object));
    }
    for (const json& object : objects) {
      if (object.value("kind", "") == "ServiceAccount") {
        verbs_of[object["metadata"].value("name", "")];
      } else if (object.value("kind", "") == "ClusterRoleBinding") {
        for (const json& subject : object.value("subjects", json::array())) {
          account_of_role[object["roleRef"].value("name", "")] = subject.value("name", "");
        }
      }
    }
    for (const json& object : objects) {
      if (object.value("kind", "") != "ClusterRole") continue;
      const std::string account = account_of_role[object["metadata"].value("name", "")];
      for (const json& rule : object.value("rules", json::array())) {
        const json resources = rule.value("resources", json::array());
        if (std::find(resources.begin(), resources.end(), "nodes") == resources.end()) continue;
        for (const json& verb : rule.value("verbs", json::array())) {
          verbs_of[account].insert(verb.get<std::string>());
        }
      }
    }
  }
  return verbs_of;
}

TEST(AgentNodeRights, TheChartsCopyIsTheOneRenderedFromTheTable) {
  const std::string rendered = RenderAgentNodeRightsTemplate();
  if (std::getenv("GPUOP_WRITE_GENERATED") != nullptr) {
    std::ofstream(kChartTemplate) << rendered;
  }
  EXPECT_EQ(ReadText(kChartTemplate), rendered)
      << kChartTemplate << " differs from src/api/agent_node_rights.cc's table; write it again "
      << "with: GPUOP_WRITE_GENERATED=1 build/tests/unit/operator_unit_test "
      << "--gtest_filter='AgentNodeRights.*'";
}

TEST(AgentNodeRights, EveryAgentsServiceAccountIsInTheTableAndNoOther) {
  std::set<std::string> in_table;
  for (const AgentNodeRights& rights : AgentNodeRightsTable()) {
    in_table.insert(rights.service_account);
  }
  std::set<std::string> in_manifests;
  for (const auto& [account, verbs] : NodeVerbsOfEachAgent()) {
    if (account != kUnconfinedNodeAgent) in_manifests.insert(account);
  }
  EXPECT_EQ(in_table, in_manifests)
      << "a node agent's ServiceAccount (deployments/operands/state-*/0100_service_account.yaml) "
         "needs a row in api::AgentNodeRightsTable, even one that grants nothing";
}

// An agent that writes a key needs `patch` on nodes, and one that writes none must not hold any
// write verb: the policy would refuse its writes anyway, but RBAC should not offer them.
TEST(AgentNodeRights, OnlyAgentsThatOwnKeysMayWriteNodes) {
  std::map<std::string, std::set<std::string>> verbs_of = NodeVerbsOfEachAgent();
  for (const AgentNodeRights& rights : AgentNodeRightsTable()) {
    const std::set<std::string>& verbs = verbs_of[rights.service_account];
    const bool writes = !rights.labels.empty() || !rights.annotations.empty();
    EXPECT_EQ(verbs.contains("patch"), writes) << rights.service_account;
    // NVIDIA's MIG manager writes its labels with a read-modify-write Update of the Node; the
    // admission policy holds that to its keys as it does patches. No other agent gets `update`.
    const bool updates_nodes = rights.service_account == "nvidia-mig-manager";
    EXPECT_EQ(verbs.contains("update"), updates_nodes) << rights.service_account;
    for (const char* verb : {"create", "delete", "deletecollection", "*"}) {
      EXPECT_FALSE(verbs.contains(verb)) << rights.service_account << " may " << verb << " nodes";
    }
  }
}

TEST(AgentNodeRights, TheCcManagerOwnsItsStateLabelsThePausedDeployLabelsAndItsRecord) {
  const std::vector<AgentNodeRights>& table = AgentNodeRightsTable();
  auto cc = std::find_if(table.begin(), table.end(), [](const AgentNodeRights& rights) {
    return rights.service_account == "nvidia-cc-manager";
  });
  ASSERT_NE(cc, table.end());
  EXPECT_THAT(cc->labels,
              ::testing::IsSupersetOf({kCcCapableLabel, kCcModeStateLabel, kCcReadyStateLabel}));
  for (const PausedOperand& operand : PausedOperands()) {
    EXPECT_THAT(cc->labels, ::testing::Contains(operand.label));
  }
  // Never the admin's request: an agent that could set it could switch a node's CC mode.
  EXPECT_THAT(cc->labels, ::testing::Not(::testing::Contains(kCcModeLabel)));
  EXPECT_THAT(cc->annotations, ::testing::ElementsAre(kPausedLabelsAnnotation));
}

TEST(AgentNodeRights, NoAgentOwnsTheRoutingLabels) {
  for (const AgentNodeRights& rights : AgentNodeRightsTable()) {
    for (const std::string& key : rights.labels) {
      EXPECT_NE(key, kWorkloadConfigLabel) << rights.service_account;
      EXPECT_NE(key, kGpuPresentLabel) << rights.service_account;
      EXPECT_NE(key, kDeployOperandsLabel) << rights.service_account;
    }
  }
}

}  // namespace
}  // namespace gpuop::api
