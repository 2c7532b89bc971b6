// A GPU Node as a real cluster holds it, for the benchmarks: the labels NFD and the cloud put on
// a GPU node (about a hundred: CPU features, kernel, PCI, OS release, topology) and the status a
// kubelet reports (nodeInfo, capacity and allocatable, conditions with heartbeat times,
// addresses, the images on the node). Light Nodes flatter a controller: the apiserver encodes,
// stores and watches the whole object on every label patch.
#ifndef GPUOP_BENCH_REALISTIC_GPU_NODE_H_
#define GPUOP_BENCH_REALISTIC_GPU_NODE_H_

#include <string>

#include <nlohmann/json.hpp>

namespace gpuop::bench {

// The Node named `name`, its labels including `extra_labels` (e.g. the benchmark's own marker
// and a workload label). `index` varies the per-node values (IDs, addresses, zone).
nlohmann::json RealisticGpuNode(const std::string& name, int index,
                                const nlohmann::json& extra_labels);

}  // namespace gpuop::bench

#endif  // GPUOP_BENCH_REALISTIC_GPU_NODE_H_
