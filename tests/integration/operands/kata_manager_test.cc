// `gpuop kata-manager` as a process with real peers: the kube-apiserver (its Node's labels pick
// the runtime classes, a dockerconfigjson Secret holds the registry password, Events and the
// artifacts annotation land on the Node), Debian's docker-registry behind htpasswd with an
// artifact pushed by ORAS, and Debian's containerd, whose `config dump` must show the handler.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>

#include "absl/strings/escaping.h"

#include "common/subprocess.h"
#include "tests/fixtures/http_get.h"
#include "tests/fixtures/node_files.h"
#include "tests/fixtures/test_files.h"
#include "tests/integration/background_process.h"
#include "tests/integration/kube/informer_testing.h"
#include "tests/integration/oci/test_registry.h"
#include "tests/integration/testenv.h"

namespace gpuop::operands {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

common::ProcessResult RunTool(const std::vector<std::string>& argv) {
  absl::StatusOr<common::ProcessResult> run =
      common::RunProcess(argv, {.timeout = std::chrono::minutes(2)});
  return run.ok() ? *run : common::ProcessResult{.err = std::string(run.status().message())};
}

constexpr char kKataConfig[] =
    "[hypervisor.qemu]\n"
    "path = \"/opt/kata/bin/qemu-system-x86_64\"\n"
    "kernel = \"/opt/kata/share/kata-containers/vmlinux-nvidia-gpu.container\"\n"
    "image = \"/opt/kata/share/kata-containers/kata-containers-nvidia-gpu.img\"\n"
    "cold_plug_vfio = \"root-port\"\n";

TEST(KataManagerProcess, InstallsTheNodesRuntimeClassesRegistersThemAndCleansUp) {
  // In normal form, as the agent normalizes artifactsDir ("/tmp//x" is "/tmp/x") before use.
  const std::string dir = testing::ScratchDir("kata-manager");
  const std::map<std::string, std::string> files = {
      {"vmlinux-nvidia-gpu.container", testing::RandomBytes(3 << 20, 7)},
      {"kata-containers-nvidia-gpu.img", testing::RandomBytes(2 << 20, 8)},
      {"configuration-nvidia-gpu-qemu.toml", kKataConfig}};
  std::vector<std::string> names;
  for (const auto& [name, bytes] : files) {
    testing::WriteFile(dir + "/push/" + name, bytes);
    names.push_back(name);
  }
  testing::TestRegistry registry(dir + "/registry", {.username = "kata", .password = "pw-123"});
  std::string error;
  ASSERT_TRUE(registry.Start(&error)) << error;
  const common::ProcessResult pushed =
      registry.Push(dir + "/push", "kata/gpu-artifacts", "v1", names);
  ASSERT_EQ(pushed.exit_code, 0) << pushed.err;

  auto client = kube::AdminClient();
  const std::string node = testing::UniqueName("kata-node");
  const std::string secret = testing::UniqueName("kata-pull");
  ASSERT_TRUE(client
                  ->Create(kube::resources::kNodes, "",
                           {{"apiVersion", "v1"},
                            {"kind", "Node"},
                            {"metadata",
                             {{"name", node},
                              {"labels", {{"nvidia.com/gpu.workload.config", "vm-passthrough"}}}}}})
                  .ok());
  const std::string docker_config =
      R"({"auths":{")" + registry.Host() + R"(":{"username":"kata","password":"pw-123"}}})";
  ASSERT_TRUE(client
                  ->Create(kube::resources::kSecrets, "default",
                           {{"apiVersion", "v1"},
                            {"kind", "Secret"},
                            {"metadata", {{"name", secret}}},
                            {"type", "kubernetes.io/dockerconfigjson"},
                            {"data", {{".dockerconfigjson", absl::Base64Escape(docker_config)}}}})
                  .ok());

  const std::string artifacts = dir + "/artifacts";
  const auto config = [&](bool with_broken) {
    std::string yaml = "artifactsDir: " + artifacts +
                       "\nruntimeClasses:\n"
                       "- name: kata-qemu-nvidia-gpu\n  nodeSelector: {}\n  artifacts:\n"
                       "    url: " +
                       registry.Host() +
                       "/kata/gpu-artifacts:v1\n"
                       "    pullSecret: " +
                       secret +
                       "\n"
                       "- name: kata-qemu-nvidia-gpu-snp\n"
                       "  nodeSelector: {\"nvidia.com/cc.ready.state\": \"true\"}\n  artifacts:\n"
                       "    url: " +
                       registry.Host() + "/kata/gpu-artifacts:v1\n";
    if (with_broken) {
      yaml += "- name: kata-broken\n  artifacts:\n    url: " + registry.Host() +
              "/kata/missing:v9\n    pullSecret: " + secret + "\n";
    }
    testing::WriteFile(dir + "/config/config.yaml", yaml);
  };
  config(/*with_broken=*/true);
  const std::string main_config = dir + "/etc/containerd/config.toml";
  const std::string stock = RunTool({"containerd", "config", "default"}).out;
  testing::WriteFile(main_config, stock);
  const std::vector<std::string> argv = {GPUOP_BINARY,
                                         "kata-manager",
                                         "--config",
                                         dir + "/config/config.yaml",
                                         "--host-root",
                                         "/",
                                         "--node-name",
                                         node,
                                         "--namespace",
                                         "default",
                                         "--kubeconfig",
                                         testing::AdminKubeconfig(),
                                         "--validations-dir",
                                         dir + "/validations",
                                         "--containerd-config",
                                         main_config,
                                         "--containerd-drop-in",
                                         dir + "/etc/containerd/conf.d/99-gpuop-kata.toml",
                                         "--containerd-restart",
                                         "none",
                                         "--plain-http-registries",
                                         registry.Host()};
  std::vector<std::string> once = argv;
  once.push_back("--once");

  const common::ProcessResult first = RunTool(once);
  EXPECT_EQ(first.exit_code, 1) << "one class cannot be pulled\n" << first.err;
  // The class that applies is installed whole, the one whose selector misses is not.
  const std::string installed = artifacts + "/kata-qemu-nvidia-gpu";
  for (const auto& [name, bytes] : files) {
    if (name.ends_with(".toml")) continue;
    EXPECT_TRUE(testing::ReadWhole(installed + "/" + name) == bytes) << name;
  }
  EXPECT_FALSE(std::filesystem::exists(artifacts + "/kata-qemu-nvidia-gpu-snp"));
  EXPECT_FALSE(std::filesystem::exists(artifacts + "/kata-broken"));
  const std::string kata_config =
      testing::ReadWhole(installed + "/configuration-nvidia-gpu-qemu.toml");
  EXPECT_THAT(kata_config, HasSubstr("kernel = '" + installed + "/vmlinux-nvidia-gpu.container'"));
  EXPECT_THAT(kata_config, HasSubstr("image = '" + installed + "/kata-containers-nvidia-gpu.img'"));
  EXPECT_THAT(kata_config, HasSubstr("path = '/opt/kata/bin/qemu-system-x86_64'"));
  const common::ProcessResult listing = RunTool({"ls", "-la", installed});
  std::cout << "ls -la " << installed << ":\n" << listing.out;

  const common::ProcessResult dump =
      RunTool({"containerd", "--config", main_config, "config", "dump"});
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  const std::string handler =
      "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata-qemu-nvidia-gpu]";
  ASSERT_THAT(dump.out, HasSubstr(handler));
  EXPECT_THAT(dump.out,
              HasSubstr("ConfigPath = \"" + installed + "/configuration-nvidia-gpu-qemu.toml\""));
  EXPECT_THAT(dump.out, Not(HasSubstr("runtimes.kata-qemu-nvidia-gpu-snp]")));
  EXPECT_THAT(dump.out, Not(HasSubstr("runtimes.kata-broken]")));
  std::cout << "containerd config dump:\n" << dump.out.substr(dump.out.find(handler), 700) << "\n";

  absl::StatusOr<json> node_object = client->Get(kube::resources::kNodes, "", node);
  ASSERT_TRUE(node_object.ok());
  const json digests =
      json::parse((*node_object)["metadata"]["annotations"].value("gpuop.io/kata-artifacts", "{}"));
  EXPECT_TRUE(digests.contains("kata-qemu-nvidia-gpu")) << digests;
  EXPECT_THAT(digests.value("kata-qemu-nvidia-gpu", ""), ::testing::StartsWith("sha256:"));
  auto events = client->ListAll(kube::resources::kEvents, "default");
  ASSERT_TRUE(events.ok());
  std::vector<std::string> reasons;
  for (const json& event : events->items) {
    if (event["regarding"].value("name", "") != node) continue;
    reasons.push_back(event.value("reason", ""));
    if (event.value("reason", "") == "KataArtifactsFailed") {
      EXPECT_THAT(event.value("note", ""), HasSubstr("runtime class kata-broken"));
      EXPECT_EQ(event.value("type", ""), "Warning");
    }
  }
  EXPECT_THAT(reasons,
              ::testing::UnorderedElementsAre("KataArtifactsFailed", "KataArtifactsInstalled"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/validations/.kata-manager-ctr-ready"));

  // The broken class gone from the config: a rerun pulls nothing, as the digest is current.
  config(/*with_broken=*/false);
  const auto started = std::chrono::steady_clock::now();
  const common::ProcessResult second = RunTool(once);
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(second.err, Not(HasSubstr("pulling Kata artifacts")));
  EXPECT_TRUE(std::filesystem::exists(dir + "/validations/.kata-manager-ctr-ready"));
  std::cout << "no-op rerun of gpuop kata-manager --once: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";

  // As the long-lived agent on a node the operator deploys it to: a pass at start, another as
  // soon as the config changes (inotify, not the 300 s resync), both counted on /metrics;
  // SIGTERM ends it cleanly.
  ASSERT_TRUE(client
                  ->MergePatch(kube::resources::kNodes, "", node,
                               {{"metadata",
                                 {{"labels", {{"nvidia.com/gpu.deploy.kata-manager", "true"}}}}}})
                  .ok());
  const int metrics_port = testing::FreeLoopbackPort();
  std::vector<std::string> agent = argv;
  agent.insert(agent.end(), {"--metrics-address", "127.0.0.1:" + std::to_string(metrics_port)});
  testing::BackgroundProcess daemon(agent, dir + "/agent.log");
  const auto passes = [&] {
    const std::string metrics = testing::HttpGet(metrics_port, "/metrics");
    const std::string key = "gpuop_kata_manager_passes_total{result=\"ok\"} ";
    const size_t at = metrics.find(key);
    return at == std::string::npos ? 0 : std::atoi(metrics.c_str() + at + key.size());
  };
  const auto wait_for = [&](int want) {
    testing::WaitFor([&] { return passes() >= want; }, std::chrono::seconds(10),
                     std::chrono::milliseconds(50));
    return passes();
  };
  EXPECT_EQ(wait_for(1), 1) << testing::ReadWhole(dir + "/agent.log");
  testing::WriteFile(dir + "/config/config.yaml",
                     testing::ReadWhole(dir + "/config/config.yaml") + "# edited\n");
  EXPECT_EQ(wait_for(2), 2) << testing::ReadWhole(dir + "/agent.log");
  const std::string scraped = testing::HttpGet(metrics_port, "/metrics");
  EXPECT_THAT(scraped, HasSubstr("gpuop_kata_manager_runtime_classes{state=\"installed\"} 1"));
  EXPECT_THAT(scraped, HasSubstr("gpuop_kata_manager_runtime_classes{state=\"skipped\"} 1"));
  daemon.Signal(SIGTERM);
  EXPECT_EQ(daemon.Wait(), 0) << testing::ReadWhole(dir + "/agent.log");
  // Its deploy label still true, that was a restart (a rollout): the handlers stay.
  const std::string drop_in = dir + "/etc/containerd/conf.d/99-gpuop-kata.toml";
  EXPECT_TRUE(std::filesystem::exists(drop_in));

  // Taken off the node (label gone: a workload flip, helm uninstall), the stopping agent gives
  // containerd's config back byte for byte, as --cleanup does; the artifacts stay.
  ASSERT_TRUE(client
                  ->MergePatch(kube::resources::kNodes, "", node,
                               {{"metadata",
                                 {{"labels", {{"nvidia.com/gpu.deploy.kata-manager", nullptr}}}}}})
                  .ok());
  std::vector<std::string> leaving = argv;
  leaving.insert(leaving.end(), {"--metrics-address", ""});
  testing::BackgroundProcess last(leaving, dir + "/agent-leaving.log");
  testing::WaitFor(
      [&] {
        const std::string log = testing::ReadWhole(dir + "/agent-leaving.log");
        return log.find("\"runtime_classes\"") != std::string::npos ||
               log.find("runtime_classes=") != std::string::npos;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50));
  last.Signal(SIGTERM);
  EXPECT_EQ(last.Wait(), 0) << testing::ReadWhole(dir + "/agent-leaving.log");
  EXPECT_THAT(testing::ReadWhole(dir + "/agent-leaving.log"),
              HasSubstr("no longer deployed on this node"));
  EXPECT_EQ(testing::ReadWhole(main_config), stock);
  EXPECT_FALSE(std::filesystem::exists(drop_in));
  EXPECT_TRUE(std::filesystem::exists(installed + "/vmlinux-nvidia-gpu.container"));
  std::vector<std::string> cleanup = argv;
  cleanup.push_back("--cleanup");
  const common::ProcessResult cleaned = RunTool(cleanup);
  EXPECT_EQ(cleaned.exit_code, 0) << cleaned.err;
  EXPECT_THAT(cleaned.err, HasSubstr("nothing to clean up"));

  EXPECT_TRUE(client->Delete(kube::resources::kNodes, "", node).ok());
  EXPECT_TRUE(client->Delete(kube::resources::kSecrets, "default", secret).ok());
}

TEST(KataManagerProcess, AContainerdConfigThatDoesNotParseIsLeftAsItIsWithAWarningEvent) {
  // In normal form, as the agent normalizes artifactsDir ("/tmp//x" is "/tmp/x") before use.
  const std::string dir = testing::ScratchDir("kata-manager");
  auto client = kube::AdminClient();
  const std::string node = testing::UniqueName("kata-broken-ctd");
  ASSERT_TRUE(client
                  ->Create(kube::resources::kNodes, "",
                           {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", node}}}})
                  .ok());
  testing::WriteFile(dir + "/config.yaml", "runtimeClasses: []\n");
  const std::string broken = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"\nimports = [\n";
  testing::WriteFile(dir + "/config.toml", broken);
  const common::ProcessResult run = RunTool(
      {GPUOP_BINARY, "kata-manager", "--once", "--config", dir + "/config.yaml", "--host-root", "/",
       "--node-name", node, "--kubeconfig", testing::AdminKubeconfig(), "--containerd-config",
       dir + "/config.toml", "--containerd-drop-in", dir + "/drop-in.toml", "--containerd-restart",
       "none", "--validations-dir", dir + "/validations"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(testing::ReadWhole(dir + "/config.toml"), broken);
  auto events = client->ListAll(kube::resources::kEvents, "default");
  ASSERT_TRUE(events.ok());
  bool warned = false;
  for (const json& event : events->items) {
    if (event["regarding"].value("name", "") != node) continue;
    EXPECT_EQ(event.value("reason", ""), "ContainerdConfigFailed");
    EXPECT_THAT(event.value("note", ""), HasSubstr("not valid TOML at line 2"));
    EXPECT_THAT(event.value("note", ""), HasSubstr("nothing was changed"));
    warned = true;
  }
  EXPECT_TRUE(warned);
  EXPECT_TRUE(client->Delete(kube::resources::kNodes, "", node).ok());
}

TEST(KataManagerProcess, AConfigThatDoesNotParseChangesNothingAndSaysWhere) {
  // In normal form, as the agent normalizes artifactsDir ("/tmp//x" is "/tmp/x") before use.
  const std::string dir = testing::ScratchDir("kata-manager");
  testing::WriteFile(dir + "/config.yaml",
                     "runtimeClasses:\n- name: Kata_Bad\n  artifacts: {url: x}\n");
  const std::string main_config = dir + "/config.toml";
  testing::WriteFile(main_config, "version = 2\n");
  const common::ProcessResult run = RunTool(
      {GPUOP_BINARY, "kata-manager", "--once", "--config", dir + "/config.yaml", "--host-root", "/",
       "--containerd-config", main_config, "--containerd-drop-in", dir + "/drop-in.toml",
       "--containerd-restart", "none", "--validations-dir", dir + "/validations"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("runtimeClasses[0].name"));
  EXPECT_EQ(testing::ReadWhole(main_config), "version = 2\n");
  EXPECT_FALSE(std::filesystem::exists(dir + "/drop-in.toml"));
}

}  // namespace
}  // namespace gpuop::operands
