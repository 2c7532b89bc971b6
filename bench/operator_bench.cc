// The operator at fleet scale, on a real kube-apiserver (goals and figures: docs/benchmarks.md):
//   - convergence: seconds from starting `gpuop operator` until NODES GPU Nodes carry their
//     deploy labels, the operand DaemonSets are applied and the ClusterPolicy's status is ready,
//     against the raw limit (16 parallel writers merge-patching one label on each of the same
//     Nodes);
//   - the operator process's peak RSS (VmHWM), and its RSS with no Nodes, per Node;
//   - writes made by a restarted operator with nothing to change (labels, operand objects and
//     status; goal 0).
// Usage: operator_bench KUBECONFIG GPUOP_BINARY [NODES]. The ClusterPolicy CRD must be installed
// (scripts/bench does it). Creates NODES Nodes and a ClusterPolicy, removes them at the end.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "api/labels.h"
#include "kube/informer.h"
#include "kube/rest_client.h"
#include "operator/active_policy.h"
#include "operator/operand_renderer.h"

namespace gpuop::op {
namespace {

using Clock = std::chrono::steady_clock;
using kube::json;
constexpr int kThreads = 16;
constexpr char kBenchLabel[] = "bench-operator";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void ParallelFor(int count, const std::function<void(int)>& fn) {
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < count; i = next++) fn(i);
    });
  }
  for (std::thread& thread : threads) thread.join();
}

// A free loopback port, for the operator's /metrics.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// The value of an unlabelled metric from the operator's /metrics; -1 when unreachable.
double Metric(int port, const std::string& name) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  const std::string request = "GET /metrics HTTP/1.0\r\n\r\n";
  (void)!write(fd, request.data(), request.size());
  std::string reply;
  char buffer[4096];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) reply.append(buffer, n);
  close(fd);
  const size_t at = reply.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::atof(reply.c_str() + at + name.size() + 2);
}

// `gpuop operator` as a child process.
class OperatorProcess {
 public:
  OperatorProcess(const std::string& binary, const std::string& kubeconfig, int port) {
    pid_ = fork();
    if (pid_ == 0) {
      freopen("/dev/null", "w", stderr);
      const std::string metrics = "127.0.0.1:" + std::to_string(port);
      execl(binary.c_str(), binary.c_str(), "operator", "--kubeconfig", kubeconfig.c_str(),
            "--leader-elect=false", "--namespace", "default", "--operand-image", "gpuop:bench",
            "--metrics-address", metrics.c_str(), "--log-format", "json", nullptr);
      _exit(127);
    }
  }
  ~OperatorProcess() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  // A field of /proc/<pid>/status in bytes ("VmHWM", "VmRSS").
  size_t MemoryBytes(const std::string& field) const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.starts_with(field + ":")) return std::stoull(line.substr(field.size() + 1)) * 1024;
    }
    return 0;
  }

 private:
  pid_t pid_ = -1;
};

json BenchNode(int index) {
  json labels = {{"bench", kBenchLabel},
                 {"kubernetes.io/hostname", "gpu-node-" + std::to_string(index)},
                 {"kubernetes.io/os", "linux"},
                 {"feature.node.kubernetes.io/pci-10de.present", "true"},
                 {"feature.node.kubernetes.io/pci-0302_10de.present", "true"},
                 {"feature.node.kubernetes.io/kernel-version.full", "6.1.0-27-amd64"},
                 {"feature.node.kubernetes.io/system-os_release.ID", "debian"},
                 {"feature.node.kubernetes.io/system-os_release.VERSION_ID", "12"},
                 {"feature.node.kubernetes.io/iommu-enabled", "true"}};
  // Two in three on the container path (NVIDIA's default workload), whose operands the
  // operator renders too: the driver's tag from the os_release labels above.
  if (index % 3 != 0) labels["nvidia.com/gpu.workload.config"] = "container";
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", "bench-gpu-" + std::to_string(index)}, {"labels", labels}}}};
}

void Run(const std::string& kubeconfig, const std::string& binary, int nodes) {
  auto config = kube::LoadKubeconfig(kubeconfig);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    std::exit(1);
  }
  auto client = *kube::RestClient::Create(*config);
  const json policy = {
      {"apiVersion", "nvidia.com/v1"},
      {"kind", "ClusterPolicy"},
      {"metadata", {{"name", "bench-policy"}}},
      {"spec",
       {{"sandboxWorkloads",
         {{"enabled", true}, {"defaultWorkload", "vm-passthrough"}, {"mode", "kata"}}},
        {"vfioManager", {{"enabled", true}}},
        {"kataSandboxDevicePlugin", {{"enabled", true}}},
        {"kataManager", {{"enabled", true}}},
        {"ccManager", {{"enabled", true}, {"defaultMode", "on"}}}}}};
  if (auto created = client->Create(kClusterPolicies, "", policy); !created.ok()) {
    std::fprintf(stderr, "create the ClusterPolicy: %s (is the CRD installed?)\n",
                 std::string(created.status().message()).c_str());
    std::exit(1);
  }

  // The operator with no GPU Nodes yet: its fixed cost.
  size_t rss_empty = 0;
  {
    const int port = FreePort();
    OperatorProcess empty(binary, kubeconfig, port);
    while (Metric(port, "gpuop_operator_node_reconciles_total") < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    rss_empty = empty.MemoryBytes("VmRSS");
  }

  std::atomic<int> failures{0};
  ParallelFor(nodes, [&](int i) {
    if (!client->Create(kube::resources::kNodes, "", BenchNode(i)).ok()) ++failures;
  });
  // The limit: one label merge-patched on each Node by 16 writers at once.
  const auto limit_start = Clock::now();
  ParallelFor(nodes, [&](int i) {
    const json patch = {{"metadata", {{"labels", {{"bench.gpuop.io/touched", "1"}}}}}};
    if (!client->MergePatch(kube::resources::kNodes, "", "bench-gpu-" + std::to_string(i), patch)
             .ok()) {
      ++failures;
    }
  });
  const double limit_seconds = Seconds(Clock::now() - limit_start);

  // Convergence, seen from outside: every bench Node carries its `client` deploy label, the
  // operand DaemonSets are applied, and the ClusterPolicy's status says all of it is ready. No
  // DaemonSet controller runs here, so the bench plays it: it reports each DaemonSet rolled out
  // (status subresource) as soon as it sees a generation it has not reported.
  kube::Informer<int> labelled(
      *client, kube::resources::kNodes, "",
      {.label_selector = std::string("bench=") + kBenchLabel + ",nvidia.com/gpu.deploy.client=true",
       .metadata_only = true},
      [](kube::JsonElement) { return 0; });
  labelled.Start();
  labelled.WaitForSync(std::chrono::minutes(1));
  const std::string ready_message = std::to_string(nodes) + " GPU node(s) routed";
  const auto policy_ready = [&] {
    auto got = client->Get(kClusterPolicies, "", "bench-policy");
    if (!got.ok() || !got->contains("status")) return false;
    const json& status = (*got)["status"];
    return status.value("state", "") == "ready" &&
           status["conditions"][0].value("message", "").starts_with(ready_message);
  };
  const auto play_daemonset_controller = [&] {
    auto list = client->ListAll(
        kube::resources::kDaemonSets, "default",
        {.label_selector = std::string(api::kManagedByLabel) + "=" + api::kManagedByValue});
    if (!list.ok()) return 0;
    for (const json& ds : list->items) {
      const json generation = ds["metadata"]["generation"];
      if (ds.value("status", json::object()).value("observedGeneration", json(0)) == generation) {
        continue;
      }
      const json status = {{"observedGeneration", generation},
                           {"desiredNumberScheduled", 0},
                           {"currentNumberScheduled", 0},
                           {"updatedNumberScheduled", 0},
                           {"numberAvailable", 0},
                           {"numberReady", 0},
                           {"numberMisscheduled", 0}};
      (void)client->MergePatch(kube::resources::kDaemonSets, "default",
                               ds["metadata"]["name"].get<std::string>(), {{"status", status}},
                               "status");
    }
    return static_cast<int>(list->items.size());
  };
  const int port = FreePort();
  const auto start = Clock::now();
  double labels_seconds = 0;
  double converge_seconds = 0;
  int daemonsets = 0;
  size_t peak_rss = 0;
  size_t rss_full = 0;
  {
    OperatorProcess op(binary, kubeconfig, port);
    while (Seconds(Clock::now() - start) < 600) {
      if (labels_seconds == 0 && labelled.Size() >= static_cast<size_t>(nodes)) {
        labels_seconds = Seconds(Clock::now() - start);
      }
      daemonsets = play_daemonset_controller();
      if (labels_seconds > 0 && policy_ready()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    converge_seconds = Seconds(Clock::now() - start);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    peak_rss = op.MemoryBytes("VmHWM");
    rss_full = op.MemoryBytes("VmRSS");
  }
  labelled.Stop();

  // A restart with nothing to change: node label patches, operand applies and deletes, and
  // status writes, all counted by the operator itself.
  double restart_writes = -1;
  std::string restart_breakdown;
  {
    const int restart_port = FreePort();
    OperatorProcess again(binary, kubeconfig, restart_port);
    const auto restart_start = Clock::now();
    while ((Metric(restart_port, "gpuop_operator_node_reconciles_total") < nodes ||
            Metric(restart_port, "gpuop_operator_operand_apply_passes_total") < 1) &&
           Seconds(Clock::now() - restart_start) < 300) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));  // Past the status write's delay.
    restart_writes = 0;
    for (const char* counter :
         {"gpuop_operator_node_label_patches_total", "gpuop_operator_operand_applies_total",
          "gpuop_operator_operand_deletes_total", "gpuop_operator_policy_status_writes_total"}) {
      const double writes = std::max(0.0, Metric(restart_port, counter));
      restart_writes += writes;
      restart_breakdown += std::string(restart_breakdown.empty() ? "" : ", ") + counter + " " +
                           std::to_string(static_cast<int>(writes));
    }
  }

  std::printf(
      "operator  %d GPU Nodes labelled, %d DaemonSets applied and the ClusterPolicy ready in "
      "%.2f s (labels alone %.2f s); raw limit %.2f s (%.0f patches/s): %.2fx the limit "
      "(goal <= 1.25x)\n",
      nodes, daemonsets, converge_seconds, labels_seconds, limit_seconds, nodes / limit_seconds,
      converge_seconds / limit_seconds);
  std::printf(
      "operator  peak RSS %.1f MB (goal <= 30 MB); RSS with no Nodes %.1f MB, with %d: "
      "%.1f MB, %.0f B/Node (goal < 1 KB)\n",
      peak_rss / 1e6, rss_empty / 1e6, nodes, rss_full / 1e6,
      (static_cast<double>(rss_full) - static_cast<double>(rss_empty)) / nodes);
  std::printf("operator  restart with nothing to change: %.0f writes (goal 0): %s\n",
              restart_writes, restart_breakdown.c_str());
  if (failures > 0) std::printf("operator  (%d API calls failed during setup)\n", failures.load());

  ParallelFor(nodes, [&](int i) {
    (void)client->Delete(kube::resources::kNodes, "", "bench-gpu-" + std::to_string(i));
  });
  (void)client->Delete(kClusterPolicies, "", "bench-policy");
}

}  // namespace
}  // namespace gpuop::op

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: operator_bench KUBECONFIG GPUOP_BINARY [NODES]\n");
    return 2;
  }
  gpuop::op::Run(argv[1], argv[2], argc > 3 ? std::atoi(argv[3]) : 5000);
  return 0;
}
