// The REST client against the real kube-apiserver of the ctest fixture.

#include "kube/rest_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <latch>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

#include "common/files.h"
#include "kube/api_error.h"
#include "tests/integration/kube/informer_testing.h"
#include "tests/integration/testenv.h"

namespace gpuop::kube {
namespace {

using ::gpuop::testing::TestEnvState;
using ::gpuop::testing::UniqueName;
using ::testing::HasSubstr;

json NodeNamed(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}};
}

std::string ResourceVersion(const json& object) {
  return object["metadata"]["resourceVersion"].get<std::string>();
}

TEST(RestClient, CreateGetUpdateMergePatchDeleteANode) {
  auto client = AdminClient();
  const std::string name = UniqueName("rest-node");
  auto created = client->Create(resources::kNodes, "", NodeNamed(name));
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string uid = (*created)["metadata"]["uid"];

  auto again = client->Create(resources::kNodes, "", NodeNamed(name));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(HttpCodeOf(again.status()), 409);

  auto got = client->Get(resources::kNodes, "", name);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["metadata"]["uid"], uid);

  json update = *got;
  update["metadata"]["labels"]["nvidia.com/gpu.present"] = "true";
  auto updated = client->Update(resources::kNodes, "", update);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ((*updated)["metadata"]["labels"]["nvidia.com/gpu.present"], "true");

  // Writing from the stale copy loses the race: optimistic concurrency says Conflict.
  update["metadata"]["labels"]["stale"] = "yes";
  auto stale = client->Update(resources::kNodes, "", update);
  EXPECT_TRUE(IsConflict(stale.status())) << stale.status();
  EXPECT_EQ(ReasonOf(stale.status()), "Conflict");

  auto patched = client->MergePatch(
      resources::kNodes, "", name,
      {{"metadata", {{"labels", {{"nvidia.com/gpu.present", nullptr}, {"b", "2"}}}}}});
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_FALSE((*patched)["metadata"]["labels"].contains("nvidia.com/gpu.present"));
  EXPECT_EQ((*patched)["metadata"]["labels"]["b"], "2");

  auto wrong_uid = client->Delete(resources::kNodes, "", name,
                                  {.precondition_uid = "00000000-0000-0000-0000-000000000000"});
  EXPECT_TRUE(IsConflict(wrong_uid)) << wrong_uid;
  ASSERT_TRUE(client->Delete(resources::kNodes, "", name, {.precondition_uid = uid}).ok());
  auto gone = client->Get(resources::kNodes, "", name);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(gone.status().message(), HasSubstr(name));
}

// The node label writer's patch: applied as a merge patch, its (metadata-only) answer unread;
// the server's refusals still come back as statuses.
TEST(RestClient, MergePatchWithoutReplyWritesAndReportsRefusals) {
  auto client = AdminClient();
  const std::string name = UniqueName("quiet-node");
  ASSERT_TRUE(client->Create(resources::kNodes, "", NodeNamed(name)).ok());

  ASSERT_TRUE(client
                  ->MergePatchWithoutReply(
                      resources::kNodes, "", name,
                      {{"metadata", {{"labels", {{"nvidia.com/gpu.deploy.driver", "true"}}}}}})
                  .ok());
  auto got = client->Get(resources::kNodes, "", name);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["metadata"]["labels"]["nvidia.com/gpu.deploy.driver"], "true");

  ASSERT_TRUE(client
                  ->MergePatchWithoutReply(
                      resources::kNodes, "", name,
                      {{"metadata", {{"labels", {{"nvidia.com/gpu.deploy.driver", nullptr}}}}}})
                  .ok());
  got = client->Get(resources::kNodes, "", name);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE((*got)["metadata"]["labels"].contains("nvidia.com/gpu.deploy.driver"));

  const absl::Status invalid = client->MergePatchWithoutReply(
      resources::kNodes, "", name, {{"metadata", {{"labels", {{"bad key!", "x"}}}}}});
  EXPECT_EQ(HttpCodeOf(invalid), 422) << invalid;
  EXPECT_THAT(invalid.message(), HasSubstr("bad key!"));

  ASSERT_TRUE(client->Delete(resources::kNodes, "", name).ok());
  const absl::Status gone = client->MergePatchWithoutReply(
      resources::kNodes, "", name, {{"metadata", {{"labels", {{"a", "b"}}}}}});
  EXPECT_EQ(gone.code(), absl::StatusCode::kNotFound) << gone;
}

TEST(RestClient, ListPagesThroughMoreThan500ObjectsWithSelectors) {
  auto client = AdminClient();
  const std::string ns = UniqueName("paging");
  ASSERT_TRUE(
      client
          ->Create(resources::kNamespaces, "",
                   {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}})
          .ok());
  constexpr int kObjects = 520;
  for (int i = 0; i < kObjects; ++i) {
    json cm = {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata",
                {{"name", "cm-" + std::to_string(i)},
                 {"labels", {{"parity", i % 2 == 0 ? "even" : "odd"}}}}}};
    ASSERT_TRUE(client->Create(resources::kConfigMaps, ns, cm).ok()) << i;
  }

  auto first = client->List(resources::kConfigMaps, ns, {.limit = 100});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->items.size(), 100u);
  EXPECT_FALSE(first->continue_token.empty());

  auto all = client->ListAll(resources::kConfigMaps, ns, {.limit = 100});
  ASSERT_TRUE(all.ok()) << all.status();
  std::set<std::string> names;
  for (const json& item : all->items) names.insert(item["metadata"]["name"].get<std::string>());
  EXPECT_EQ(names.size(), static_cast<size_t>(kObjects));  // Every object once, none twice.
  EXPECT_FALSE(all->resource_version.empty());

  auto even =
      client->ListAll(resources::kConfigMaps, ns, {.label_selector = "parity=even", .limit = 50});
  ASSERT_TRUE(even.ok()) << even.status();
  EXPECT_EQ(even->items.size(), static_cast<size_t>(kObjects / 2));
  auto one = client->List(resources::kConfigMaps, ns, {.field_selector = "metadata.name=cm-7"});
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->items.size(), 1u);
  EXPECT_EQ(one->items[0]["metadata"]["labels"]["parity"], "odd");

  EXPECT_TRUE(client->Delete(resources::kNamespaces, "", ns).ok());
}

TEST(RestClient, ServerSideApplyConflictsBetweenManagersUntilForced) {
  auto client = AdminClient();
  const std::string name = UniqueName("apply-node");
  json mine = NodeNamed(name);
  mine["metadata"]["labels"]["nvidia.com/gpu.deploy.sandbox-device-plugin"] = "true";
  auto applied = client->Apply(resources::kNodes, "", mine, {.field_manager = "gpuop"});
  ASSERT_TRUE(applied.ok()) << applied.status();

  // Applying the same again changes nothing: same resourceVersion.
  auto reapplied = client->Apply(resources::kNodes, "", mine, {.field_manager = "gpuop"});
  ASSERT_TRUE(reapplied.ok());
  EXPECT_EQ(ResourceVersion(*reapplied), ResourceVersion(*applied));

  json theirs = NodeNamed(name);
  theirs["metadata"]["labels"]["nvidia.com/gpu.deploy.sandbox-device-plugin"] =
      "paused-for-cc-mode-change";
  auto conflict = client->Apply(resources::kNodes, "", theirs, {.field_manager = "cc-manager"});
  EXPECT_TRUE(IsConflict(conflict.status())) << conflict.status();
  EXPECT_THAT(conflict.status().message(), HasSubstr("conflict"));

  auto forced =
      client->Apply(resources::kNodes, "", theirs, {.field_manager = "cc-manager", .force = true});
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ((*forced)["metadata"]["labels"]["nvidia.com/gpu.deploy.sandbox-device-plugin"],
            "paused-for-cc-mode-change");
  std::set<std::string> managers;
  for (const json& entry : (*forced)["metadata"]["managedFields"]) {
    managers.insert(entry["manager"].get<std::string>());
  }
  EXPECT_TRUE(managers.contains("cc-manager"));
  EXPECT_TRUE(client->Delete(resources::kNodes, "", name).ok());
}

TEST(RestClient, AppliesReadsAndDeletesInTheAppsRbacAndNodeGroups) {
  // What the operator writes for each operand: a DaemonSet (apps/v1), a ClusterRole
  // (rbac.authorization.k8s.io/v1) and a RuntimeClass (node.k8s.io/v1).
  auto client = AdminClient();
  const std::string name = UniqueName("operand");
  const json labels = {{"app", name}};
  const json daemon_set = {
      {"apiVersion", "apps/v1"},
      {"kind", "DaemonSet"},
      {"metadata", {{"name", name}, {"namespace", "default"}}},
      {"spec",
       {{"selector", {{"matchLabels", labels}}},
        {"template",
         {{"metadata", {{"labels", labels}}},
          {"spec",
           {{"nodeSelector", {{"nvidia.com/gpu.deploy.vfio-manager", "true"}}},
            {"containers", {{{"name", "agent"}, {"image", "gpuop:test"}}}}}}}}}}};
  const json cluster_role = {
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "ClusterRole"},
      {"metadata", {{"name", name}}},
      {"rules", {{{"apiGroups", {""}}, {"resources", {"nodes"}}, {"verbs", {"get", "patch"}}}}}};
  const json runtime_class = {{"apiVersion", "node.k8s.io/v1"},
                              {"kind", "RuntimeClass"},
                              {"metadata", {{"name", name}}},
                              {"handler", "kata-qemu-nvidia-gpu"}};
  struct Case {
    const Resource& resource;
    std::string ns;
    json object;
  };
  for (const Case& c : {Case{resources::kDaemonSets, "default", daemon_set},
                        Case{resources::kClusterRoles, "", cluster_role},
                        Case{resources::kRuntimeClasses, "", runtime_class}}) {
    SCOPED_TRACE(c.resource.plural);
    auto applied = client->Apply(c.resource, c.ns, c.object);
    ASSERT_TRUE(applied.ok()) << applied.status();
    auto read = client->Get(c.resource, c.ns, name);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ((*read)["kind"], c.object["kind"]);
    EXPECT_EQ((*read)["metadata"]["uid"], (*applied)["metadata"]["uid"]);
    auto listed = client->List(c.resource, c.ns, {.field_selector = "metadata.name=" + name});
    ASSERT_TRUE(listed.ok()) << listed.status();
    EXPECT_EQ(listed->items.size(), 1u);
    EXPECT_TRUE(client->Delete(c.resource, c.ns, name).ok());
    EXPECT_TRUE(absl::IsNotFound(client->Get(c.resource, c.ns, name).status()));
  }
}

TEST(RestClient, UpdatesTheStatusSubresourceOfACustomResource) {
  auto client = AdminClient();
  const std::string group = UniqueName("status") + ".testenv.gpuop.io";
  const json crd = {
      {"apiVersion", "apiextensions.k8s.io/v1"},
      {"kind", "CustomResourceDefinition"},
      {"metadata", {{"name", "gadgets." + group}}},
      {"spec",
       {{"group", group},
        {"scope", "Cluster"},
        {"names", {{"plural", "gadgets"}, {"kind", "Gadget"}}},
        {"versions",
         {{{"name", "v1"},
           {"served", true},
           {"storage", true},
           {"subresources", {{"status", json::object()}}},
           {"schema",
            {{"openAPIV3Schema",
              {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}}}}}}};
  ASSERT_TRUE(client->Create(resources::kCustomResourceDefinitions, "", crd).ok());
  const Resource gadgets{group, "v1", "gadgets", false};
  // The new kind is served once the CRD is established; poll briefly.
  absl::StatusOr<json> created;
  WaitFor(
      [&] {
        created = client->Create(gadgets, "",
                                 {{"apiVersion", group + "/v1"},
                                  {"kind", "Gadget"},
                                  {"metadata", {{"name", "g1"}}},
                                  {"spec", {{"size", 1}}}});
        return created.status().code() != absl::StatusCode::kNotFound;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(100));
  ASSERT_TRUE(created.ok()) << created.status();

  json with_status = *created;
  with_status["status"] = {{"state", "ready"}};
  with_status["spec"]["size"] = 99;  // Ignored: the status endpoint writes status only.
  auto updated = client->UpdateStatus(gadgets, "", with_status);
  ASSERT_TRUE(updated.ok()) << updated.status();
  auto read = client->Get(gadgets, "", "g1");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ((*read)["status"]["state"], "ready");
  EXPECT_EQ((*read)["spec"]["size"], 1);

  // And through server-side apply on the status subresource.
  auto applied = client->Apply(gadgets, "",
                               {{"apiVersion", group + "/v1"},
                                {"kind", "Gadget"},
                                {"metadata", {{"name", "g1"}}},
                                {"status", {{"state", "notReady"}}}},
                               {.field_manager = "gpuop", .force = true, .subresource = "status"});
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ((*applied)["status"]["state"], "notReady");
  EXPECT_TRUE(client->Delete(resources::kCustomResourceDefinitions, "", "gadgets." + group).ok());
}

TEST(RestClient, AuthenticatesWithABearerTokenAndATokenFile) {
  auto admin = LoadKubeconfig(gpuop::testing::AdminKubeconfig());
  ASSERT_TRUE(admin.ok());
  auto token = common::ReadFile(TestEnvState() + "/admin-token");
  ASSERT_TRUE(token.ok());

  RestConfig with_token = *admin;
  with_token.tls.client_cert_pem.clear();
  with_token.tls.client_key_pem.clear();
  with_token.bearer_token = std::string(absl::StripAsciiWhitespace(*token));
  auto client = RestClient::Create(with_token);
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE((*client)->List(resources::kNodes, "").ok());

  RestConfig with_file = with_token;
  with_file.bearer_token.clear();
  with_file.token_file = TestEnvState() + "/admin-token";
  auto file_client = RestClient::Create(with_file);
  ASSERT_TRUE(file_client.ok());
  EXPECT_TRUE((*file_client)->List(resources::kNodes, "").ok());

  RestConfig anonymous = with_token;
  anonymous.bearer_token = "not-a-token";
  auto rejected = (*RestClient::Create(anonymous))->List(resources::kNodes, "");
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kUnauthenticated) << rejected.status();
}

// The TCP connections this process holds open to `port`: its socket descriptors whose inodes
// /proc/self/net/tcp{,6} lists as established with that remote port.
std::vector<int> EstablishedConnectionsTo(int port) {
  std::set<std::string> inodes;
  for (const char* table : {"/proc/self/net/tcp", "/proc/self/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // The header.
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> inode;
      int remote_port = 0;
      if (state == "01" && absl::SimpleHexAtoi(remote.substr(remote.find(':') + 1), &remote_port) &&
          remote_port == port) {
        inodes.insert(inode);
      }
    }
  }
  std::vector<int> sockets;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    const std::string target = std::filesystem::read_symlink(fd.path(), error).string();
    if (!error && target.starts_with("socket:[") &&
        inodes.contains(target.substr(8, target.size() - 9))) {
      sockets.push_back(std::stoi(fd.path().filename().string()));
    }
  }
  return sockets;
}

TEST(RestClient, CallsFromManyThreadsShareOneConnection) {
  auto client = AdminClient();
  const std::string& server = client->Config().server;
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(server.substr(server.rfind(':') + 1), &port)) << server;
  const std::vector<int> before = EstablishedConnectionsTo(port);

  // Sixteen threads, as the operator's node workers, each with its calls in flight beside the
  // others': on connections of their own they would open up to sixteen.
  constexpr int kThreads = 16;
  constexpr int kCallsEach = 20;
  std::latch start(kThreads);
  std::atomic<int> succeeded{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int call = 0; call < kCallsEach; ++call) {
        if (client->List(resources::kNamespaces, "").ok()) ++succeeded;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(succeeded.load(), kThreads * kCallsEach);
  std::vector<int> opened;
  for (int socket : EstablishedConnectionsTo(port)) {
    if (std::find(before.begin(), before.end(), socket) == before.end()) opened.push_back(socket);
  }
  ASSERT_EQ(opened.size(), 1u) << "the calls should have travelled as HTTP/2 streams of one "
                                  "connection";
  // A half-open connection must not hold every later call: the kernel ends it when what it
  // sent stays unacknowledged for 30 s.
  unsigned int user_timeout = 0;
  socklen_t size = sizeof(user_timeout);
  ASSERT_EQ(getsockopt(opened[0], IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, &size), 0);
  EXPECT_EQ(user_timeout, 30'000u);
}

TEST(RestClient, RefusesAServerItDoesNotTrust) {
  auto admin = LoadKubeconfig(gpuop::testing::AdminKubeconfig());
  ASSERT_TRUE(admin.ok());
  RestConfig untrusted = *admin;
  // A CA that did not sign the server's certificate: our own client certificate.
  untrusted.tls.ca_pem = admin->tls.client_cert_pem;
  auto result = (*RestClient::Create(untrusted))->List(resources::kNodes, "");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition) << result.status();
}

}  // namespace
}  // namespace gpuop::kube
