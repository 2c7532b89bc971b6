// The operator at fleet scale, on a real kube-apiserver (goals and figures: docs/benchmarks.md):
//   - convergence: seconds from starting gpuop-operator until NODES GPU Nodes carry their
//     deploy labels, the operand DaemonSets are applied and the ClusterPolicy's status is ready,
//     against the raw limit (16 parallel writers merge-patching one label on each of the same
//     Nodes), measured before and after the operator's run and taken as the mean of the two;
//   - the operator process's peak RSS (VmHWM), and its RSS with no Nodes, per Node;
//   - writes made by a restarted operator with nothing to change (labels, operand objects and
//     status; goal 0).
// Usage: operator_bench KUBECONFIG GPUOP_OPERATOR_BINARY [NODES]. The ClusterPolicy CRD must be
// installed (scripts/bench does it). Creates NODES Nodes and a ClusterPolicy, removes them at the
// end.

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
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/labels.h"
#include "bench/realistic_gpu_node.h"
#include "kube/informer.h"
#include "kube/rest_client.h"
#include "operator/active_policy.h"
#include "operator/node_routing.h"
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

// Sends `request` over HTTP/1.0 to a loopback port and reads the whole reply; "" when nothing
// listens there.
std::string LoopbackExchange(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return "";
  }
  (void)!write(fd, request.data(), request.size());
  std::string reply;
  char buffer[4096];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) reply.append(buffer, n);
  close(fd);
  return reply;
}

// The value of an unlabelled metric from a /metrics page on a loopback port; -1 when
// unreachable.
double Metric(int port, const std::string& name) {
  const std::string reply = LoopbackExchange(port, "GET /metrics HTTP/1.0\r\n\r\n");
  const size_t at = reply.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::atof(reply.c_str() + at + name.size() + 2);
}

// The body of a POST of JSON `body` to `path` on a loopback port; "" when unreachable.
std::string Post(int port, const std::string& path, const std::string& body) {
  const std::string reply = LoopbackExchange(
      port, "POST " + path + " HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
  const size_t at = reply.find("\r\n\r\n");
  return at == std::string::npos ? "" : reply.substr(at + 4);
}

// CPU seconds (user + system) process `pid` has used; 0 when it is not there.
double ProcessCpuSeconds(pid_t pid) {
  if (pid <= 0) return 0;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t after_name = text.rfind(')');
  if (after_name == std::string::npos) return 0;
  std::istringstream fields(text.substr(after_name + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields 3.. after the name; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The operator as a child process: gpuop-operator, the binary the chart runs.
class OperatorProcess {
 public:
  OperatorProcess(const std::string& binary, const std::string& kubeconfig, int port) {
    pid_ = fork();
    if (pid_ == 0) {
      freopen("/dev/null", "w", stderr);
      const std::string metrics = "127.0.0.1:" + std::to_string(port);
      std::vector<std::string> args = {binary,
                                       "--kubeconfig",
                                       kubeconfig,
                                       "--leader-elect=false",
                                       "--namespace",
                                       "default",
                                       "--operand-image",
                                       "gpuop:bench",
                                       "--metrics-address",
                                       metrics,
                                       "--log-format",
                                       "json"};
      // GPUOP_BENCH_OPERATOR_WRAPPER=heaptrack profiles the operator's heap (one
      // heaptrack.gpuop.<pid>.zst per operator started, in the working directory).
      if (const char* wrapper = std::getenv("GPUOP_BENCH_OPERATOR_WRAPPER"); wrapper != nullptr) {
        std::istringstream words(wrapper);
        std::vector<std::string> prefix;
        for (std::string word; words >> word;) prefix.push_back(word);
        args.insert(args.begin(), prefix.begin(), prefix.end());
      }
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      _exit(127);
    }
  }
  ~OperatorProcess() {
    // A wrapper (heaptrack) waits on the operator, which would not see its SIGTERM.
    std::ifstream children("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) +
                           "/children");
    for (pid_t child; children >> child;) {
      std::ifstream comm("/proc/" + std::to_string(child) + "/comm");
      std::string name;
      comm >> name;
      if (name == "gpuop-operator") kill(child, SIGTERM);  // Not heaptrack's own writer.
    }
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
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

std::string NodeName(int index) { return "bench-gpu-" + std::to_string(index); }

// Two in three on the container path (NVIDIA's default workload), whose operands the operator
// renders too: the driver's tag from NFD's os_release labels.
json BenchNode(int index) {
  json extra = {{"bench", kBenchLabel}};
  if (index % 3 != 0) extra["nvidia.com/gpu.workload.config"] = "container";
  return bench::RealisticGpuNode(NodeName(index), index, extra);
}

// The control plane's processes and etcd's address, from the `env` file that
// tools/testenv/control-plane writes beside the kubeconfig; empty when not there.
struct ControlPlane {
  pid_t apiserver = 0;
  pid_t etcd = 0;
  int etcd_port = 0;

  static ControlPlane Beside(const std::string& kubeconfig) {
    ControlPlane found;
    std::ifstream env(std::filesystem::path(kubeconfig).parent_path() / "env");
    for (std::string line; std::getline(env, line);) {
      const size_t equals = line.find('=');
      if (equals == std::string::npos) continue;
      const std::string key = line.substr(0, equals);
      const std::string value = line.substr(equals + 1);
      if (key == "APISERVER_PID") found.apiserver = std::atoi(value.c_str());
      if (key == "ETCD_PID") found.etcd = std::atoi(value.c_str());
      if (key == "ETCD_URL")
        found.etcd_port = std::atoi(value.substr(value.rfind(':') + 1).c_str());
    }
    return found;
  }
  // Compacts etcd's history to now and defragments its database (etcd's JSON gateway), so that
  // its size is that of the live objects, not of the revisions that created them or of earlier
  // runs on the same control plane.
  void CompactEtcd() const {
    if (etcd_port == 0) return;
    const json range =
        json::parse(Post(etcd_port, "/v3/kv/range", R"({"key":"AA=="})"), nullptr, false);
    if (range.is_discarded() || !range.contains("header")) return;
    const std::string revision = range["header"].value("revision", "0");
    (void)Post(etcd_port, "/v3/kv/compaction",
               R"({"revision":")" + revision + R"(","physical":true})");
    (void)Post(etcd_port, "/v3/maintenance/defragment", "{}");
  }
  // CPU seconds the apiserver and etcd have used so far.
  double CpuSeconds() const { return ProcessCpuSeconds(apiserver) + ProcessCpuSeconds(etcd); }
  // etcd's database size in bytes; -1 when unknown.
  double EtcdBytes() const {
    return etcd_port == 0 ? -1 : Metric(etcd_port, "etcd_mvcc_db_total_size_in_bytes");
  }
};

void Run(const std::string& kubeconfig, const std::string& binary, int nodes) {
  auto config = kube::LoadKubeconfig(kubeconfig);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    std::exit(1);
  }
  auto client = *kube::RestClient::Create(*config);
  const ControlPlane control_plane = ControlPlane::Beside(kubeconfig);
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

  // The operator with no GPU Nodes yet: its fixed cost, once it has done all it does without
  // them (the operands applied, the status written), so that the cost per Node is not charged
  // with the rest of its start.
  size_t rss_empty = 0;
  {
    const int port = FreePort();
    OperatorProcess empty(binary, kubeconfig, port);
    const auto give_up = Clock::now() + std::chrono::seconds(60);
    while ((Metric(port, "gpuop_operator_operand_apply_passes_total") < 1 ||
            Metric(port, "gpuop_operator_policy_status_writes_total") < 1) &&
           Clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (Clock::now() >= give_up) {
      std::printf(
          "operator  (the operator with no Nodes had not applied its operands and "
          "written the status within 60 s; its RSS is taken as it is)\n");
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    rss_empty = empty.MemoryBytes("VmRSS");
  }

  std::atomic<int> failures{0};
  const auto create_start = Clock::now();
  ParallelFor(nodes, [&](int i) {
    const json node = BenchNode(i);
    absl::StatusOr<json> created = client->Create(kube::resources::kNodes, "", node);
    if (!created.ok()) {
      ++failures;
      return;
    }
    // A kubelet's create keeps the status it sends; should the server drop it, the kubelet's
    // next status update puts it back, and so does this.
    if (!created->contains("status") || !(*created)["status"].contains("images")) {
      if (!client
               ->MergePatch(kube::resources::kNodes, "", NodeName(i), {{"status", node["status"]}},
                            "status")
               .ok()) {
        ++failures;
      }
    }
  });
  const double create_seconds = Seconds(Clock::now() - create_start);
  size_t node_bytes = 0;
  size_t label_count = 0;
  if (auto sample = client->Get(kube::resources::kNodes, "", NodeName(nodes / 2)); sample.ok()) {
    node_bytes = sample->dump().size();
    label_count = (*sample)["metadata"]["labels"].size();
  }
  control_plane.CompactEtcd();
  const double etcd_bytes = control_plane.EtcdBytes();

  // The limit: one label merge-patched on each Node by 16 writers at once, each patch the
  // cheapest the API offers and the one gpuop sends: metadata-only answer, left unread. It runs
  // before the operator's run and again after it, and the two are averaged: this machine's
  // speed drifts by 10-30% over minutes, and a limit taken on one side only put that drift
  // into the ratio (docs/benchmarks.md). Each timed part starts on a compacted etcd, so that
  // none inherits the revisions of the one before.
  struct Limit {
    double seconds = 0;
    double server_cpu = 0;
  };
  const auto run_limit = [&](const std::string& value) {
    control_plane.CompactEtcd();
    const double cpu_before = control_plane.CpuSeconds();
    const auto limit_start = Clock::now();
    ParallelFor(nodes, [&](int i) {
      const json patch = {{"metadata", {{"labels", {{"bench.gpuop.io/touched", value}}}}}};
      if (!client->MergePatchWithoutReply(kube::resources::kNodes, "", NodeName(i), patch).ok()) {
        ++failures;
      }
    });
    return Limit{.seconds = Seconds(Clock::now() - limit_start),
                 .server_cpu = control_plane.CpuSeconds() - cpu_before};
  };
  const Limit limit_before = run_limit("before");

  // Convergence, seen from outside: the ClusterPolicy's status says every Node is routed and
  // every operand DaemonSet rolled out (the operator writes it once the last Node's labels are
  // written), then a list checks that every Node carries its deploy labels. Nothing watches the
  // Nodes meanwhile, so the apiserver serves the operator alone, as it served the limit's
  // writers alone. No DaemonSet controller runs here, so the bench plays it, from a watch: it
  // reports each DaemonSet rolled out (status subresource) once it sees a new generation.
  const std::string ready_message = std::to_string(nodes) + " GPU node(s) routed";
  // Watched, not polled: a GET of the policy every 20 ms cost the apiserver more CPU than the
  // operator's own status writes, and the limit's run had no such reader.
  kube::Informer<bool> policy_watch(
      *client, kClusterPolicies, "", kube::ListWatchOptions{},
      [ready_message](kube::JsonElement object) {
        kube::JsonElement conditions;
        if (kube::StringAt(object, {"status", "state"}) != "ready" ||
            !kube::ElementAt(object, {"status", "conditions"}, conditions)) {
          return false;
        }
        simdjson::dom::array list;
        std::string_view message;
        if (conditions.get_array().get(list) != simdjson::SUCCESS || list.size() == 0 ||
            list.at(0)["message"].get_string().get(message) != simdjson::SUCCESS) {
          return false;
        }
        return message.starts_with(ready_message);
      });
  policy_watch.Start();
  policy_watch.WaitForSync(std::chrono::minutes(1));
  const auto policy_ready = [&] { return policy_watch.Get("bench-policy").value_or(false); };
  struct Generations {
    int64_t generation = 0;
    int64_t observed = 0;
  };
  std::unique_ptr<kube::Informer<Generations>> daemonset_controller;
  const auto roll_out = [&](const std::string& key) {
    const std::optional<Generations> seen = daemonset_controller->Get(key);
    if (!seen || seen->generation == seen->observed) return;
    const json status = {{"observedGeneration", seen->generation},
                         {"desiredNumberScheduled", 0},
                         {"currentNumberScheduled", 0},
                         {"updatedNumberScheduled", 0},
                         {"numberAvailable", 0},
                         {"numberReady", 0},
                         {"numberMisscheduled", 0}};
    (void)client->MergePatch(kube::resources::kDaemonSets, "default", key.substr(key.find('/') + 1),
                             {{"status", status}}, "status");
  };
  daemonset_controller = std::make_unique<kube::Informer<Generations>>(
      *client, kube::resources::kDaemonSets, "default",
      kube::ListWatchOptions{.label_selector =
                                 std::string(api::kManagedByLabel) + "=" + api::kManagedByValue},
      [](kube::JsonElement object) {
        const auto number = [&](std::initializer_list<std::string_view> path) {
          kube::JsonElement found;
          int64_t value = 0;
          if (kube::ElementAt(object, path, found) && found.get(value) != simdjson::SUCCESS) {
            value = 0;
          }
          return value;
        };
        return Generations{.generation = number({"metadata", "generation"}),
                           .observed = number({"status", "observedGeneration"})};
      },
      kube::InformerHandlers{.on_add = roll_out, .on_update = roll_out});
  daemonset_controller->Start();
  daemonset_controller->WaitForSync(std::chrono::minutes(1));
  const int port = FreePort();
  control_plane.CompactEtcd();
  const double converge_cpu_before = control_plane.CpuSeconds();
  const auto start = Clock::now();
  double converge_seconds = 0;
  size_t peak_rss = 0;
  size_t peak_anon = 0;  // Sampled with each look at the policy: the kernel keeps no peak of it.
  size_t rss_full = 0;
  double converge_server_cpu = 0;
  double operator_cpu = 0;
  size_t rss_file = 0;
  size_t labelled = 0;
  bool labels_after_status = false;
  double apply_passes = 0;
  const auto CountLabelled = [&]() -> size_t {
    auto listed = client->ListAll(kube::resources::kNodes, "",
                                  {.label_selector = std::string("bench=") + kBenchLabel +
                                                     ",nvidia.com/gpu.deploy.client=true",
                                   .metadata_only = true});
    return listed.ok() ? listed->items.size() : 0;
  };
  {
    OperatorProcess op(binary, kubeconfig, port);
    while (Seconds(Clock::now() - start) < 600) {
      peak_anon = std::max(peak_anon, op.MemoryBytes("RssAnon"));
      if (policy_ready()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    converge_seconds = Seconds(Clock::now() - start);
    // The server's CPU up to the status that says ready: the list below is the benchmark's.
    converge_server_cpu = control_plane.CpuSeconds() - converge_cpu_before;
    // The status counts a Node once the operator has looked at it, so a patch that failed and
    // waits for its retry would be counted already: a list confirms every label, and if it
    // does not, the time is that of the first list that does.
    for (labelled = CountLabelled();
         labelled < static_cast<size_t>(nodes) && Seconds(Clock::now() - start) < 600;
         labelled = CountLabelled()) {
      labels_after_status = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (labels_after_status) {
      converge_seconds = Seconds(Clock::now() - start);
      converge_server_cpu = control_plane.CpuSeconds() - converge_cpu_before;
    }
    operator_cpu = ProcessCpuSeconds(op.pid());
    apply_passes = Metric(port, "gpuop_operator_operand_apply_passes_total");
    std::this_thread::sleep_for(std::chrono::seconds(1));
    peak_rss = op.MemoryBytes("VmHWM");
    rss_full = op.MemoryBytes("VmRSS");
    peak_anon = std::max(peak_anon, op.MemoryBytes("RssAnon"));
    rss_file = op.MemoryBytes("RssFile");
  }
  const size_t daemonsets = daemonset_controller->Size();
  policy_watch.Stop();
  daemonset_controller->Stop();
  // The limit again, with the operator gone and nothing else watching, as before its run.
  const Limit limit_after = run_limit("after");
  const double limit_seconds = (limit_before.seconds + limit_after.seconds) / 2;
  const double limit_server_cpu = (limit_before.server_cpu + limit_after.server_cpu) / 2;

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

  // The label text the operator keeps per Node (RoutingLabels, the common keys a byte each),
  // which the memory goal does not count: the mean over Nodes 0-2, one sandbox Node (fewer
  // labels) and two container Nodes.
  double kept_label_bytes = 0;
  for (int i = 0; i < 3; ++i) {
    auto sample = client->Get(kube::resources::kNodes, "", NodeName(i));
    if (!sample.ok()) continue;
    std::vector<std::pair<std::string, std::string>> owned;
    for (const auto& [key, value] : (*sample)["metadata"]["labels"].items()) {
      owned.emplace_back(key, value.get<std::string>());
    }
    std::vector<std::pair<std::string_view, std::string_view>> pairs(owned.begin(), owned.end());
    kept_label_bytes += static_cast<double>(RoutingLabels(pairs).HeapBytes()) / 3;
  }
  const double rss_per_node =
      (static_cast<double>(rss_full) - static_cast<double>(rss_empty)) / nodes;
  std::printf(
      "operator  fleet: %d Nodes of %zu bytes (JSON) with %zu labels each, created in %.1f s; "
      "etcd database %.0f MB\n",
      nodes, node_bytes, label_count, create_seconds, etcd_bytes / 1e6);
  std::printf(
      "operator  %zu of %d GPU Nodes labelled, %zu DaemonSets applied and the ClusterPolicy ready "
      "in %.2f s; raw limit %.2f s (%.0f patches/s; %.2f s before gpuop's run, %.2f s after): "
      "%.2fx the limit (goal <= 1.25x; %.2fx the one before, %.2fx the one after)\n",
      labelled, nodes, daemonsets, converge_seconds, limit_seconds, nodes / limit_seconds,
      limit_before.seconds, limit_after.seconds, converge_seconds / limit_seconds,
      converge_seconds / limit_before.seconds, converge_seconds / limit_after.seconds);
  std::printf(
      "operator  per Node: %.0f us to converge (limit %.0f us); apiserver + etcd CPU: %.1f s for "
      "gpuop's run, %.1f s for the limit's (mean); gpuop's own CPU %.1f s; %.0f operand render and "
      "apply passes\n",
      converge_seconds / nodes * 1e6, limit_seconds / nodes * 1e6, converge_server_cpu,
      limit_server_cpu, operator_cpu, apply_passes);
  std::printf(
      "operator  peak RSS %.1f MB (goal <= 30 MB), of which file pages (the binary and shared "
      "libraries, mapped from disk) %.1f MB at the end; peak anonymous RSS %.1f MB\n",
      peak_rss / 1e6, rss_file / 1e6, peak_anon / 1e6);
  std::printf(
      "operator  peak RSS %.1f MB (goal <= 30 MB); RSS with no Nodes %.1f MB, with %d: "
      "%.1f MB, %.0f B/Node, of which %.0f B of kept label text: %.0f B/Node beyond it "
      "(goal < 1 KB; this figure includes what the busy workers cost once, the growth table's "
      "slope does not)\n",
      peak_rss / 1e6, rss_empty / 1e6, nodes, rss_full / 1e6, rss_per_node, kept_label_bytes,
      rss_per_node - kept_label_bytes);
  if (labels_after_status) {
    std::printf(
        "operator  (the status said ready before every Node was labelled; the time is "
        "that of the list that saw them all)\n");
  }
  std::printf("operator  restart with nothing to change: %.0f writes (goal 0): %s\n",
              restart_writes, restart_breakdown.c_str());
  // One line for scripts/bench's growth table, which sets the sizes side by side.
  std::printf("growth %d %.3f %.3f %.0f %.0f %.0f %.0f %.0f %.1f %.1f %.0f\n", nodes,
              converge_seconds, limit_seconds, static_cast<double>(peak_rss),
              static_cast<double>(rss_full), static_cast<double>(rss_empty), kept_label_bytes,
              etcd_bytes, converge_server_cpu, limit_server_cpu, static_cast<double>(peak_anon));
  if (failures > 0) std::printf("operator  (%d API calls failed during setup)\n", failures.load());

  ParallelFor(nodes,
              [&](int i) { (void)client->Delete(kube::resources::kNodes, "", NodeName(i)); });
  (void)client->Delete(kClusterPolicies, "", "bench-policy");
}

}  // namespace
}  // namespace gpuop::op

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: operator_bench KUBECONFIG GPUOP_OPERATOR_BINARY [NODES]\n");
    return 2;
  }
  gpuop::op::Run(argv[1], argv[2], argc > 3 ? std::atoi(argv[3]) : 5000);
  return 0;
}
