// Proves the ctest control plane is the real thing: the pinned upstream kube-apiserver, backed
// by etcd, assigning identities, serving CRDs it was just taught, validating them by their
// schema, enforcing RBAC and issuing ServiceAccount tokens.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "tests/fixtures/test_files.h"
#include "tests/integration/testenv.h"

namespace gpuop::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using json = nlohmann::json;

uint64_t ResourceVersionOf(const json& object) {
  const std::string rv = object["metadata"]["resourceVersion"].get<std::string>();
  EXPECT_THAT(rv, MatchesRegex("[0-9]+"));  // etcd's revision, as the apiserver reports it.
  return std::stoull(rv);
}

constexpr char kUuidPattern[] = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

TEST(ControlPlane, ServerIsThePinnedUpstreamKubeApiserverWithHealthyEtcd) {
  const json version = KubectlJson({"version", "-o", "json"});
  ASSERT_FALSE(version.is_null());
  EXPECT_EQ(version["serverVersion"]["gitVersion"], GPUOP_K8S_VERSION);
  EXPECT_EQ(version["clientVersion"]["gitVersion"], GPUOP_K8S_VERSION);

  const common::ProcessResult etcd = Kubectl({"get", "--raw", "/readyz/etcd"});
  EXPECT_EQ(etcd.exit_code, 0) << etcd.err;
  EXPECT_EQ(etcd.out, "ok");
}

TEST(ControlPlane, NodeCreatedThroughTheApiReadsBackWithServerSetIdentity) {
  // Labels no gpuop component acts on: an operator test running beside this one would relabel
  // a node with nvidia.com/ labels and move its resourceVersion.
  const std::string name = UniqueName("node");
  const json created = KubectlJson(
      {"create", "-f", "-", "-o", "json"},
      json{
          {"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}, {"labels", {{"testenv.gpuop.io/role", "gpu"}}}}},
      }
          .dump());
  ASSERT_FALSE(created.is_null());
  const std::string uid = created["metadata"]["uid"];
  EXPECT_THAT(uid, MatchesRegex(kUuidPattern));
  const uint64_t created_rv = ResourceVersionOf(created);
  EXPECT_FALSE(created["metadata"]["creationTimestamp"].get<std::string>().empty());

  const json read = KubectlJson({"get", "node", name, "-o", "json"});
  EXPECT_EQ(read["metadata"]["uid"], uid);
  EXPECT_EQ(ResourceVersionOf(read), created_rv);
  EXPECT_EQ(read["metadata"]["labels"]["testenv.gpuop.io/role"], "gpu");

  // A write moves the object to a later etcd revision; the identity stays. (Read it back:
  // `kubectl label -o json` prints kubectl's local copy, not the server's reply.)
  ASSERT_EQ(Kubectl({"label", "node", name, "testenv.gpuop.io/workload=vm-passthrough"}).exit_code,
            0);
  const json labelled = KubectlJson({"get", "node", name, "-o", "json"});
  EXPECT_EQ(labelled["metadata"]["uid"], uid);
  EXPECT_EQ(labelled["metadata"]["labels"]["testenv.gpuop.io/workload"], "vm-passthrough");
  EXPECT_GT(ResourceVersionOf(labelled), created_rv);

  EXPECT_EQ(Kubectl({"delete", "node", name}).exit_code, 0);
  const common::ProcessResult gone = Kubectl({"get", "node", name});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_THAT(gone.err, HasSubstr("NotFound"));
}

TEST(ControlPlane, CustomResourceDefinitionIsServedAndItsSchemaEnforced) {
  const std::string group = UniqueName("widgets") + ".testenv.gpuop.io";
  const std::string crd_name = "widgets." + group;
  const json crd = {
      {"apiVersion", "apiextensions.k8s.io/v1"},
      {"kind", "CustomResourceDefinition"},
      {"metadata", {{"name", crd_name}}},
      {"spec",
       {{"group", group},
        {"scope", "Cluster"},
        {"names", {{"plural", "widgets"}, {"singular", "widget"}, {"kind", "Widget"}}},
        {"versions",
         {{{"name", "v1"},
           {"served", true},
           {"storage", true},
           {"schema",
            {{"openAPIV3Schema",
              {{"type", "object"},
               {"properties",
                {{"spec",
                  {{"type", "object"},
                   {"properties",
                    {{"replicas", {{"type", "integer"}, {"minimum", 0}}}}}}}}}}}}}}}}}}};
  const json created = KubectlJson({"create", "-f", "-", "-o", "json"}, crd.dump());
  ASSERT_FALSE(created.is_null());
  const std::string uid = created["metadata"]["uid"];
  EXPECT_THAT(uid, MatchesRegex(kUuidPattern));
  ResourceVersionOf(created);

  const common::ProcessResult established =
      Kubectl({"wait", "--for=condition=Established", "--timeout=30s", "crd/" + crd_name});
  ASSERT_EQ(established.exit_code, 0) << established.err;
  const json read = KubectlJson({"get", "crd", crd_name, "-o", "json"});
  EXPECT_EQ(read["metadata"]["uid"], uid);

  // The server now serves the new kind and validates it against the schema.
  const std::string kind_ref = "widgets." + group;
  const json widget =
      KubectlJson({"create", "-f", "-", "-o", "json"}, json{{"apiVersion", group + "/v1"},
                                                            {"kind", "Widget"},
                                                            {"metadata", {{"name", "w1"}}},
                                                            {"spec", {{"replicas", 2}}}}
                                                           .dump());
  EXPECT_THAT(widget["metadata"]["uid"].get<std::string>(), MatchesRegex(kUuidPattern));
  EXPECT_EQ(KubectlJson({"get", kind_ref, "w1", "-o", "json"})["spec"]["replicas"], 2);

  const common::ProcessResult invalid =
      Kubectl({"create", "-f", "-"}, json{{"apiVersion", group + "/v1"},
                                          {"kind", "Widget"},
                                          {"metadata", {{"name", "w2"}}},
                                          {"spec", {{"replicas", -1}}}}
                                         .dump());
  EXPECT_NE(invalid.exit_code, 0);
  EXPECT_THAT(invalid.err, HasSubstr("spec.replicas"));

  EXPECT_EQ(Kubectl({"delete", "crd", crd_name}).exit_code, 0);
}

TEST(ControlPlane, ServiceAccountTokensAuthenticateAndRbacIsEnforced) {
  const std::string ns = UniqueName("ns");
  ASSERT_EQ(Kubectl({"create", "namespace", ns}).exit_code, 0);
  ASSERT_EQ(Kubectl({"create", "serviceaccount", "agent", "-n", ns}).exit_code, 0);
  const common::ProcessResult token = Kubectl({"create", "token", "agent", "-n", ns});
  ASSERT_EQ(token.exit_code, 0) << token.err;

  // A kubeconfig with only the token: same server and CA as the admin's.
  const json admin = KubectlJson({"config", "view", "--raw", "-o", "json"});
  const json& cluster = admin["clusters"][0]["cluster"];
  const std::string path = TestEnvState() + "/" + ns + ".kubeconfig";
  gpuop::testing::WriteFile(
      path,
      json{{"apiVersion", "v1"},
           {"kind", "Config"},
           {"clusters",
            {{{"name", "c"},
              {"cluster",
               {{"server", cluster["server"]},
                {"certificate-authority-data", cluster["certificate-authority-data"]}}}}}},
           {"users",
            {{{"name", "u"}, {"user", {{"token", token.out.substr(0, token.out.find('\n'))}}}}}},
           {"contexts", {{{"name", "x"}, {"context", {{"cluster", "c"}, {"user", "u"}}}}}},
           {"current-context", "x"}}
          .dump());

  const common::ProcessResult whoami = Kubectl({"auth", "whoami", "-o", "json"}, "", path);
  ASSERT_EQ(whoami.exit_code, 0) << whoami.err;
  EXPECT_EQ(json::parse(whoami.out)["status"]["userInfo"]["username"],
            "system:serviceaccount:" + ns + ":agent");

  const common::ProcessResult forbidden = Kubectl({"get", "nodes"}, "", path);
  EXPECT_NE(forbidden.exit_code, 0);
  EXPECT_THAT(forbidden.err, HasSubstr("Forbidden"));

  std::remove(path.c_str());
  EXPECT_EQ(Kubectl({"delete", "namespace", ns, "--wait=false"}).exit_code, 0);
}

}  // namespace
}  // namespace gpuop::testing
