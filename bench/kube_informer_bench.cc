// What the Kubernetes client costs at fleet scale, on a real kube-apiserver:
//   - heap bytes per cached Node in an informer, against the label text it must hold;
//   - list throughput (objects/s), whole objects and metadata-only;
//   - watch throughput: label patches on every Node, against the rate the server takes them;
//   - JSON ingestion of the same list bytes with nlohmann-json and simdjson.
// Usage: kube_informer_bench KUBECONFIG [NODES]. Creates NODES Nodes (default 5000), removes
// them at the end. Prints figures; never fails on a time.

#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "heap_counter.h"
#include "kube/informer.h"
#include "kube/label_set.h"
#include "kube/rest_client.h"

namespace gpuop::kube {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kThreads = 16;  // Parallel writers, enough to saturate a local apiserver.

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

int64_t HeapInUse() { return bench::LiveHeapBytes(); }

size_t RssBytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmHWM:")) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// Labels as a GPU node carries them: NFD's CPU, kernel and PCI features and NVIDIA's own.
json GpuNodeLabels(int index) {
  json labels = {{"kubernetes.io/hostname", "gpu-node-" + std::to_string(index)},
                 {"kubernetes.io/os", "linux"},
                 {"kubernetes.io/arch", "amd64"},
                 {"feature.node.kubernetes.io/pci-10de.present", "true"},
                 {"feature.node.kubernetes.io/pci-0302_10de.present", "true"},
                 {"feature.node.kubernetes.io/kernel-version.full", "6.1.0-27-amd64"},
                 {"feature.node.kubernetes.io/kernel-version.major", "6"},
                 {"feature.node.kubernetes.io/system-os_release.ID", "debian"},
                 {"feature.node.kubernetes.io/system-os_release.VERSION_ID", "12"},
                 {"feature.node.kubernetes.io/iommu-enabled", "true"},
                 {"feature.node.kubernetes.io/cpu-security.sev.snp.enabled", "true"},
                 {"nvidia.com/gpu.present", "true"},
                 {"nvidia.com/gpu.workload.config", index % 2 ? "vm-passthrough" : "container"},
                 {"nvidia.com/gpu.deploy.sandbox-device-plugin", "true"},
                 {"nvidia.com/gpu.deploy.vfio-manager", "true"},
                 {"nvidia.com/gpu.deploy.kata-manager", "true"},
                 {"nvidia.com/gpu.deploy.cc-manager", "true"},
                 {"nvidia.com/gpu.deploy.sandbox-validator", "true"},
                 {"nvidia.com/cc.capable", "true"},
                 {"nvidia.com/cc.mode", "on"},
                 {"nvidia.com/cc.mode.state", "on"},
                 {"nvidia.com/cc.ready.state", "true"},
                 {"topology.kubernetes.io/zone", "zone-" + std::to_string(index % 4)}};
  for (const char* feature : {"AVX", "AVX2", "AVX512F", "AVX512BW", "AMXTILE", "VMX", "SSE4",
                              "FMA3", "ADX", "AESNI", "SHA", "VAES", "GFNI", "MOVDIRI"}) {
    labels[std::string("feature.node.kubernetes.io/cpu-cpuid.") + feature] = "true";
  }
  return labels;
}

// Runs fn(i) for i in [0, count) on kThreads threads.
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

struct CompactNode {
  std::string resource_version;
  LabelSet labels;
};
struct MapNode {
  std::string resource_version;
  std::map<std::string, std::string> labels;
};

template <typename T>
void MeasureInformerMemory(RestClient& client, const char* name, int nodes, size_t label_text,
                           std::function<T(JsonElement)> project) {
  const int64_t heap_before = HeapInUse();
  const auto start = Clock::now();
  auto informer = std::make_unique<Informer<T>>(
      client, resources::kNodes, "",
      ListWatchOptions{.label_selector = "bench=gpuop", .metadata_only = true}, std::move(project));
  informer->Start();
  informer->WaitForSync(std::chrono::minutes(5));
  const double sync_seconds = Seconds(Clock::now() - start);
  // HasSynced turns true inside the store's update, while the informer thread still holds the
  // parsed list; measure once it has let go of it and is watching.
  while (informer->Source().Watches() == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double heap_per_node = static_cast<double>(HeapInUse() - heap_before) / nodes;
  std::printf(
      "informer %-22s %zu Nodes synced in %.2f s (%.0f objects/s); live heap %.0f B/Node (label "
      "text %.0f B/Node, beyond it %.0f B/Node)\n",
      name, informer->Size(), sync_seconds, static_cast<double>(informer->Size()) / sync_seconds,
      heap_per_node, static_cast<double>(label_text) / nodes,
      heap_per_node - static_cast<double>(label_text) / nodes);
}

void Run(const std::string& kubeconfig, int nodes) {
  auto config = LoadKubeconfig(kubeconfig);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    return;
  }
  auto client = *RestClient::Create(*config);
  std::printf("machine: %u cores; %d Nodes with %zu labels each\n",
              std::thread::hardware_concurrency(), nodes, GpuNodeLabels(0).size() + 1);

  auto start = Clock::now();
  std::atomic<int> failures{0};
  ParallelFor(nodes, [&](int i) {
    json labels = GpuNodeLabels(i);
    labels["bench"] = "gpuop";
    const json node = {
        {"apiVersion", "v1"},
        {"kind", "Node"},
        {"metadata", {{"name", "gpu-node-" + std::to_string(i)}, {"labels", labels}}}};
    if (!client->Create(resources::kNodes, "", node).ok()) ++failures;
  });
  std::printf("create   %d Nodes in %.2f s (%.0f/s, %d threads, %d failed)\n", nodes,
              Seconds(Clock::now() - start), nodes / Seconds(Clock::now() - start), kThreads,
              failures.load());

  size_t label_text = 0;
  for (int i = 0; i < nodes; ++i) {
    json labels = GpuNodeLabels(i);
    labels["bench"] = "gpuop";
    for (const auto& [k, v] : labels.items()) label_text += k.size() + v.get<std::string>().size();
  }

  for (const bool metadata_only : {false, true}) {
    start = Clock::now();
    auto list = client->ListAll(
        resources::kNodes, "",
        {.label_selector = "bench=gpuop", .limit = 500, .metadata_only = metadata_only});
    const double seconds = Seconds(Clock::now() - start);
    std::printf("list     %zu Nodes, %s, pages of 500: %.2f s (%.0f objects/s)\n",
                list.ok() ? list->items.size() : 0,
                metadata_only ? "metadata-only" : "whole objects", seconds,
                (list.ok() ? list->items.size() : 0) / seconds);
  }

  MeasureInformerMemory<CompactNode>(
      *client, "(LabelSet projection)", nodes, label_text, [](JsonElement o) {
        JsonElement labels;
        return CompactNode{ResourceVersionOf(o), ElementAt(o, {"metadata", "labels"}, labels)
                                                     ? LabelSet::FromElement(labels)
                                                     : LabelSet()};
      });
  MeasureInformerMemory<MapNode>(*client, "(std::map projection)", nodes, label_text,
                                 [](JsonElement o) {
                                   MapNode node{ResourceVersionOf(o), {}};
                                   simdjson::dom::object labels;
                                   if (o["metadata"]["labels"].get(labels) == simdjson::SUCCESS) {
                                     for (const auto field : labels) {
                                       std::string_view value;
                                       if (field.value.get(value) == simdjson::SUCCESS)
                                         node.labels.emplace(field.key, value);
                                     }
                                   }
                                   return node;
                                 });

  // Watch: every Node patched once while an informer follows; the informer's rate against the
  // rate at which the server accepted the patches.
  {
    std::atomic<int> updates{0};
    Informer<CompactNode> informer(*client, resources::kNodes, "",
                                   {.label_selector = "bench=gpuop", .metadata_only = true},
                                   [](JsonElement o) {
                                     return CompactNode{ResourceVersionOf(o), {}};
                                   },
                                   {.on_update = [&](const std::string&) { ++updates; }});
    informer.Start();
    informer.WaitForSync(std::chrono::minutes(5));
    start = Clock::now();
    ParallelFor(nodes, [&](int i) {
      (void)client->MergePatch(resources::kNodes, "", "gpu-node-" + std::to_string(i),
                               {{"metadata", {{"labels", {{"nvidia.com/cc.mode", "off"}}}}}});
    });
    const double patch_seconds = Seconds(Clock::now() - start);
    while (updates.load() < nodes && Seconds(Clock::now() - start) < 300) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const double seen_seconds = Seconds(Clock::now() - start);
    std::printf(
        "watch    %d updates seen in %.2f s (%.0f events/s); the server took the %d patches in "
        "%.2f s (%.0f/s): watch keeps up at %.2fx the write time\n",
        updates.load(), seen_seconds, updates.load() / seen_seconds, nodes, patch_seconds,
        nodes / patch_seconds, seen_seconds / patch_seconds);
  }

  // JSON ingestion: the same bytes of one whole-object list, parsed and projected to
  // (name, resourceVersion, labels) by each library.
  {
    std::string body;
    (void)client->Stream(
        {.path_and_query = "/api/v1/nodes?labelSelector=bench%3Dgpuop"},
        [&](std::string_view chunk) {
          body.append(chunk);
          return true;
        },
        nullptr);
    const double megabytes = body.size() / 1e6;
    auto best_of = [](int runs, const std::function<size_t()>& fn, size_t& out) {
      double best = 1e9;
      for (int r = 0; r < runs; ++r) {
        const auto t = Clock::now();
        out = fn();
        best = std::min(best, Seconds(Clock::now() - t));
      }
      return best;
    };
    size_t n1 = 0, n2 = 0;
    const double nlohmann_s = best_of(
        5,
        [&] {
          const json list = json::parse(body);
          size_t labels = 0;
          for (const json& item : list["items"]) {
            const json& metadata = item["metadata"];
            const std::string name = metadata["name"].get<std::string>();
            const std::string version = metadata["resourceVersion"].get<std::string>();
            labels +=
                LabelSet::FromJson(metadata["labels"]).Size() + version.empty() + name.empty();
          }
          return labels;
        },
        n1);
    simdjson::dom::parser parser;
    const double simdjson_s = best_of(
        5,
        [&] {
          simdjson::dom::element list = parser.parse(body);
          size_t labels = 0;
          for (simdjson::dom::element item : list["items"]) {
            simdjson::dom::element metadata = item["metadata"];
            const std::string name{std::string_view(metadata["name"])};
            const std::string version{std::string_view(metadata["resourceVersion"])};
            std::vector<std::pair<std::string_view, std::string_view>> pairs;
            for (auto [key, value] : simdjson::dom::object(metadata["labels"])) {
              pairs.emplace_back(key, std::string_view(value));
            }
            labels += LabelSet::FromPairs(std::move(pairs)).Size() + version.empty() + name.empty();
          }
          return labels;
        },
        n2);
    std::printf(
        "json     %.1f MB list of %d Nodes, parse + projection: nlohmann %.0f ms (%.0f MB/s), "
        "simdjson %.0f ms (%.0f MB/s): simdjson %.1fx faster (%zu/%zu labels)\n",
        megabytes, nodes, nlohmann_s * 1e3, megabytes / nlohmann_s, simdjson_s * 1e3,
        megabytes / simdjson_s, nlohmann_s / simdjson_s, n1, n2);
  }

  start = Clock::now();
  ParallelFor(nodes, [&](int i) {
    (void)client->Delete(resources::kNodes, "", "gpu-node-" + std::to_string(i));
  });
  std::printf("cleanup  deleted %d Nodes in %.2f s\n", nodes, Seconds(Clock::now() - start));
  std::printf("process  peak RSS (VmHWM) %.1f MB\n", RssBytes() / 1e6);
}

}  // namespace
}  // namespace gpuop::kube

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: kube_informer_bench KUBECONFIG [NODES]\n");
    return 2;
  }
  gpuop::kube::Run(argv[1], argc > 2 ? std::atoi(argv[2]) : 5000);
  return 0;
}
