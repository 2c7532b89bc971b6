#include "bench/realistic_gpu_node.h"

#include <cstdio>

namespace gpuop::bench {
namespace {

// The CPU flags NFD labels (feature.node.kubernetes.io/cpu-cpuid.<FLAG>=true) on a Sapphire
// Rapids host such as those H100 boards ship in.
constexpr const char* kCpuidFlags[] = {
    "ADX",        "AESNI",       "AMXBF16",    "AMXINT8",      "AMXTILE",
    "AVX",        "AVX2",        "AVX512BF16", "AVX512BITALG", "AVX512BW",
    "AVX512CD",   "AVX512DQ",    "AVX512F",    "AVX512FP16",   "AVX512IFMA",
    "AVX512VBMI", "AVX512VBMI2", "AVX512VL",   "AVX512VNNI",   "AVX512VPOPCNTDQ",
    "AVXVNNI",    "CETIBT",      "CETSS",      "CLDEMOTE",     "CMPXCHG8",
    "FMA3",       "FSRM",        "FXSR",       "FXSROPT",      "GFNI",
    "HYPERVISOR", "IBPB",        "LAHF",       "MOVBE",        "MOVDIR64B",
    "MOVDIRI",    "OSXSAVE",     "SERIALIZE",  "SHA",          "STIBP",
    "SYSCALL",    "SYSEE",       "TSXLDTRK",   "VAES",         "VMX",
    "VPCLMULQDQ", "WAITPKG",     "X87",        "XGETBV1",      "XSAVE",
    "XSAVEC",     "XSAVEOPT",    "XSAVES"};

// Other NFD features, as "<feature>=<value>" under feature.node.kubernetes.io/.
constexpr const char* kNfdFeatures[] = {"cpu-cstate.enabled=true",
                                        "cpu-hardware_multithreading=true",
                                        "cpu-model.family=6",
                                        "cpu-model.id=143",
                                        "cpu-model.vendor_id=Intel",
                                        "cpu-pstate.scaling_governor=performance",
                                        "cpu-pstate.status=active",
                                        "cpu-pstate.turbo=true",
                                        "cpu-rdt.RDTCMT=true",
                                        "cpu-rdt.RDTL3CA=true",
                                        "cpu-rdt.RDTMBA=true",
                                        "cpu-rdt.RDTMBM=true",
                                        "cpu-rdt.RDTMON=true",
                                        "cpu-security.sgx.enabled=false",
                                        "cpu-security.tdx.enabled=true",
                                        "kernel-config.NO_HZ=true",
                                        "kernel-config.NO_HZ_IDLE=true",
                                        "kernel-version.full=6.1.0-27-amd64",
                                        "kernel-version.major=6",
                                        "kernel-version.minor=1",
                                        "kernel-version.revision=0",
                                        "kernel-selinux.enabled=false",
                                        "memory-numa=true",
                                        "network-sriov.capable=true",
                                        "pci-0200_15b3.present=true",
                                        "pci-0200_15b3.sriov.capable=true",
                                        "pci-0302_10de.present=true",
                                        "pci-10de.present=true",
                                        "pci-1d0f.present=true",
                                        "storage-nonrotationaldisk=true",
                                        "system-os_release.ID=debian",
                                        "system-os_release.VERSION_ID=12",
                                        "system-os_release.VERSION_ID.major=12",
                                        "usb-ef_8087_0b26.present=true",
                                        "iommu-enabled=true"};

constexpr const char* kImages[] = {"nvcr.io/nvidia/k8s/cuda-sample",
                                   "nvcr.io/nvidia/cuda",
                                   "nvcr.io/nvidia/driver",
                                   "nvcr.io/nvidia/k8s-device-plugin",
                                   "nvcr.io/nvidia/k8s/container-toolkit",
                                   "nvcr.io/nvidia/cloud-native/gpu-operator-validator",
                                   "nvcr.io/nvidia/k8s/dcgm-exporter",
                                   "nvcr.io/nvidia/cloud-native/k8s-mig-manager",
                                   "registry.k8s.io/nfd/node-feature-discovery",
                                   "registry.k8s.io/kube-proxy",
                                   "registry.k8s.io/pause",
                                   "registry.k8s.io/coredns/coredns",
                                   "docker.io/calico/node",
                                   "docker.io/calico/cni",
                                   "quay.io/prometheus/node-exporter",
                                   "docker.io/library/busybox",
                                   "nvcr.io/nvidia/pytorch",
                                   "nvcr.io/nvidia/tritonserver",
                                   "nvcr.io/nvidia/nemo",
                                   "docker.io/fluent/fluent-bit"};

// Deterministic hex of `length` digits from `seed`, for IDs and digests.
std::string Hex(unsigned long long seed, int length) {
  std::string text;
  for (int i = 0; i < length; ++i) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    text += "0123456789abcdef"[(seed >> 60) & 15];
  }
  return text;
}

nlohmann::json Condition(const char* type, const char* status, const char* reason,
                         const char* message) {
  return {{"type", type},
          {"status", status},
          {"lastHeartbeatTime", "2026-12-07T02:00:00Z"},
          {"lastTransitionTime", "2026-11-30T08:12:45Z"},
          {"reason", reason},
          {"message", message}};
}

}  // namespace

nlohmann::json RealisticGpuNode(const std::string& name, int index,
                                const nlohmann::json& extra_labels) {
  const std::string zone = std::string("us-east-1") + "abcdef"[index % 6];
  char address[32];
  std::snprintf(address, sizeof(address), "10.%d.%d.%d", 16 + index / 65536 % 16, index / 256 % 256,
                index % 256);
  nlohmann::json labels = {{"beta.kubernetes.io/arch", "amd64"},
                           {"beta.kubernetes.io/instance-type", "p5.48xlarge"},
                           {"beta.kubernetes.io/os", "linux"},
                           {"kubernetes.io/arch", "amd64"},
                           {"kubernetes.io/hostname", name},
                           {"kubernetes.io/os", "linux"},
                           {"node.kubernetes.io/instance-type", "p5.48xlarge"},
                           {"topology.kubernetes.io/region", "us-east-1"},
                           {"topology.kubernetes.io/zone", zone},
                           {"failure-domain.beta.kubernetes.io/region", "us-east-1"},
                           {"failure-domain.beta.kubernetes.io/zone", zone}};
  for (const char* flag : kCpuidFlags) {
    labels[std::string("feature.node.kubernetes.io/cpu-cpuid.") + flag] = "true";
  }
  for (const std::string feature : kNfdFeatures) {
    const size_t equals = feature.find('=');
    labels["feature.node.kubernetes.io/" + feature.substr(0, equals)] = feature.substr(equals + 1);
  }
  for (const auto& [key, value] : extra_labels.items()) labels[key] = value;

  nlohmann::json images = nlohmann::json::array();
  for (int i = 0; i < static_cast<int>(std::size(kImages)); ++i) {
    const std::string digest = "sha256:" + Hex(i * 7919ULL + 1, 64);
    images.push_back({{"names",
                       {std::string(kImages[i]) + "@" + digest,
                        std::string(kImages[i]) + ":v" + std::to_string(1 + i % 5) + "." +
                            std::to_string(i) + ".0"}},
                      {"sizeBytes", 25000000LL + i * 104729LL * 997}});
  }
  const nlohmann::json resources = {{"cpu", "192"},
                                    {"ephemeral-storage", "3750000000Ki"},
                                    {"hugepages-1Gi", "0"},
                                    {"hugepages-2Mi", "0"},
                                    {"memory", "2113403980Ki"},
                                    {"nvidia.com/gpu", "8"},
                                    {"pods", "110"}};
  nlohmann::json allocatable = resources;
  allocatable["cpu"] = "191450m";
  allocatable["memory"] = "2102051404Ki";
  allocatable["ephemeral-storage"] = "3455891825964";
  const nlohmann::json status = {
      {"capacity", resources},
      {"allocatable", allocatable},
      {"conditions",
       {Condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
                  "kubelet has sufficient memory available"),
        Condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
                  "kubelet has no disk pressure"),
        Condition("PIDPressure", "False", "KubeletHasSufficientPID",
                  "kubelet has sufficient PID available"),
        Condition("Ready", "True", "KubeletReady", "kubelet is posting ready status")}},
      {"addresses",
       {{{"type", "InternalIP"}, {"address", address}},
        {{"type", "InternalDNS"}, {"address", name + ".ec2.internal"}},
        {{"type", "Hostname"}, {"address", name}}}},
      {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", 10250}}}}},
      {"nodeInfo",
       {{"machineID", Hex(index * 31ULL + 3, 32)},
        {"systemUUID", Hex(index * 37ULL + 5, 8) + "-" + Hex(index * 41ULL + 7, 4) + "-" +
                           Hex(index * 43ULL + 11, 4) + "-" + Hex(index * 47ULL + 13, 4) + "-" +
                           Hex(index * 53ULL + 17, 12)},
        {"bootID", Hex(index * 59ULL + 19, 8) + "-" + Hex(index * 61ULL + 23, 4) + "-" +
                       Hex(index * 67ULL + 29, 4) + "-" + Hex(index * 71ULL + 31, 4) + "-" +
                       Hex(index * 73ULL + 37, 12)},
        {"kernelVersion", "6.1.0-27-amd64"},
        {"osImage", "Debian GNU/Linux 12 (bookworm)"},
        {"containerRuntimeVersion", "containerd://1.7.24"},
        {"kubeletVersion", "v1.35.4"},
        {"kubeProxyVersion", ""},
        {"operatingSystem", "linux"},
        {"architecture", "amd64"}}},
      {"images", images},
      {"runtimeHandlers",
       {{{"name", "runc"},
         {"features", {{"recursiveReadOnlyMounts", true}, {"userNamespaces", true}}}},
        {{"name", "nvidia"},
         {"features", {{"recursiveReadOnlyMounts", true}, {"userNamespaces", true}}}},
        {{"name", ""},
         {"features", {{"recursiveReadOnlyMounts", true}, {"userNamespaces", true}}}}}},
      {"features", {{"supplementalGroupsPolicy", true}}}};
  const std::string pod_cidr =
      "100." + std::to_string(64 + index / 256 % 64) + "." + std::to_string(index % 256) + ".0/24";
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"spec",
           {{"podCIDR", pod_cidr},
            {"podCIDRs", {pod_cidr}},
            {"providerID", "aws:///" + zone + "/i-0" + Hex(index * 79ULL + 41, 16)}}},
          {"status", status}};
}

}  // namespace gpuop::bench
