#include "doctor/doctor_checks.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

#include "api/paths.h"
#include "doctor/kubelet_pod_resources.h"
#include "host/kernel_modules.h"
#include "host/nvidia_gpu_ids.h"
#include "host/pci_device.h"
#include "host/pci_ids.h"

namespace gpuop::doctor {
namespace {

using Verdict = DoctorCheck::Verdict;

// What several checks read: the node's PCI devices and the NVIDIA GPUs among them.
struct Node {
  const host::HostRoot& root;
  host::PciScan scan;
  absl::StatusOr<host::PciIds> ids;
  std::vector<const host::PciDevice*> gpus;
  std::map<int, std::vector<const host::PciDevice*>> groups;  // IOMMU group -> devices

  bool HaveGpus() const { return !gpus.empty(); }
};

// The CPU flags of /proc/cpuinfo's first "flags" line.
std::vector<std::string> CpuFlags(const host::HostRoot& root) {
  const std::string cpuinfo = root.Read("/proc/cpuinfo").value_or("");
  for (const absl::string_view line : absl::StrSplit(cpuinfo, '\n')) {
    if (!absl::StartsWith(line, "flags")) continue;
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    return absl::StrSplit(line.substr(colon + 1), ' ', absl::SkipEmpty());
  }
  return {};
}

bool Contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// "Y"/"y"/"1" in a kvm module parameter.
bool ParameterEnabled(const host::HostRoot& root, const char* path) {
  const std::string value = root.ReadTrimmed(path).value_or("");
  return value == "Y" || value == "y" || value == "1";
}

std::string Describe(const host::PciDevice& device, const host::PciIds* ids) {
  std::string name = ids != nullptr ? ids->DeviceName(device.vendor, device.device) : "";
  return absl::StrFormat("%s [%04x:%04x]%s driver=%s", device.address, device.vendor, device.device,
                         name.empty() ? "" : " " + name,
                         device.driver.empty() ? "none" : device.driver);
}

// Every *.conf under /etc/modprobe.d and /usr/lib/modprobe.d, for blacklist lines.
bool NouveauBlacklisted(const host::HostRoot& root) {
  if (absl::StrContains(root.Read("/proc/cmdline").value_or(""), "modprobe.blacklist=nouveau")) {
    return true;
  }
  for (const char* dir : {"/etc/modprobe.d", "/usr/lib/modprobe.d", "/lib/modprobe.d"}) {
    for (const std::string& file : root.List(dir)) {
      const std::string text = root.Read(absl::StrCat(dir, "/", file)).value_or("");
      for (const absl::string_view line : absl::StrSplit(text, '\n')) {
        const std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
        if (words.size() >= 2 && words[0] == "blacklist" && words[1] == "nouveau") return true;
      }
    }
  }
  return false;
}

// containerd config files that could hold runtime handlers: the main file and drop-ins.
std::vector<std::string> ContainerdConfigs(const host::HostRoot& root) {
  std::vector<std::string> files;
  if (root.Exists("/etc/containerd/config.toml")) files.push_back("/etc/containerd/config.toml");
  for (const char* dir : {"/etc/containerd/conf.d", "/opt/kata/containerd/config.d"}) {
    for (const std::string& file : root.List(dir)) {
      if (absl::EndsWith(file, ".toml")) files.push_back(absl::StrCat(dir, "/", file));
    }
  }
  return files;
}

// Fails when the root lacks the sysfs PCI bus every other check reads GPUs from.
std::optional<DoctorCheck> MissingSysfs(const host::HostRoot& root) {
  if (root.Exists("/sys/bus/pci")) return std::nullopt;
  return DoctorCheck{
      .name = "host root",
      .verdict = Verdict::kFail,
      .detail = absl::StrCat(root.Path("/sys/bus/pci"),
                             " is missing: not a Linux host's /, or its /sys is not mounted there"),
      .hint =
          "point --host-root (or $HOST_ROOT) at where the host's / is mounted, with the "
          "host's /sys mounted at its sys/"};
}

DoctorCheck NvidiaGpus(const Node& node) {
  DoctorCheck check{.name = "NVIDIA GPUs"};
  std::vector<std::string> lines;
  lines.reserve(node.gpus.size());
  for (const host::PciDevice* gpu : node.gpus) {
    lines.push_back(Describe(*gpu, node.ids.ok() ? &*node.ids : nullptr));
  }
  if (node.HaveGpus()) {
    check.verdict = Verdict::kOk;
    check.detail = absl::StrCat(node.gpus.size(), ": ", absl::StrJoin(lines, "; "));
  } else {
    check.verdict = Verdict::kInfo;
    check.detail = absl::StrCat("none among ", node.scan.devices.size(),
                                " PCI functions: this node has nothing to pass through");
  }
  if (!node.scan.problems.empty()) {
    check.verdict = Verdict::kWarn;
    absl::StrAppend(&check.detail, "; unreadable: ", node.scan.problems.front().message());
  }
  if (!node.ids.ok()) check.hint = "install Debian's pci.ids for device names";
  return check;
}

DoctorCheck CpuVirtualization(const Node& node) {
  DoctorCheck check{.name = "CPU virtualization"};
  const std::vector<std::string> flags = CpuFlags(node.root);
  const bool vmx = Contains(flags, "vmx");
  const bool svm = Contains(flags, "svm");
  const bool kvm = node.root.Exists("/dev/kvm");
  check.detail = absl::StrCat(vmx   ? "VT-x (vmx)"
                              : svm ? "AMD-V (svm)"
                                    : "no vmx/svm flag",
                              kvm ? ", /dev/kvm present" : ", no /dev/kvm");
  check.verdict = (vmx || svm) && kvm ? Verdict::kOk
                  : node.HaveGpus()   ? Verdict::kFail
                                      : Verdict::kWarn;
  if (check.verdict != Verdict::kOk) {
    check.hint = "enable VT-x / AMD-V in the BIOS and load kvm_intel or kvm_amd";
  }
  return check;
}

DoctorCheck Iommu(const Node& node) {
  DoctorCheck check{.name = "IOMMU"};
  const std::vector<std::string> units = node.root.List("/sys/class/iommu");
  const size_t group_count = node.root.List("/sys/kernel/iommu_groups").size();
  if (!units.empty() && group_count > 0) {
    check.verdict = Verdict::kOk;
    check.detail = absl::StrCat("on (", absl::StrJoin(units, ","), "), ", group_count, " groups");
  } else {
    check.verdict = node.HaveGpus() ? Verdict::kFail : Verdict::kWarn;
    check.detail = "off: /sys/kernel/iommu_groups is empty";
    check.hint = "enable VT-d / AMD-Vi in the BIOS; on Intel boot with intel_iommu=on";
  }
  return check;
}

DoctorCheck KernelCommandLine(const Node& node) {
  DoctorCheck check{.name = "kernel command line"};
  const std::string cmdline = node.root.ReadTrimmed("/proc/cmdline").value_or("");
  std::vector<std::string> found;
  for (const char* option : {"intel_iommu=on", "amd_iommu=on", "iommu=pt"}) {
    if (absl::StrContains(cmdline, option)) found.push_back(option);
  }
  check.verdict = found.empty() ? Verdict::kInfo : Verdict::kOk;
  check.detail = found.empty() ? "no IOMMU options" : absl::StrJoin(found, " ");
  if (found.empty()) check.hint = "Intel hosts need intel_iommu=on; iommu=pt spares host DMA";
  return check;
}

DoctorCheck Nouveau(const Node& node) {
  DoctorCheck check{.name = "nouveau"};
  const bool loaded = host::ModuleLoaded(node.root, "nouveau");
  const bool blacklisted = NouveauBlacklisted(node.root);
  check.detail = absl::StrCat(loaded ? "loaded" : "not loaded",
                              blacklisted ? ", blacklisted" : ", not blacklisted");
  check.verdict = loaded && node.HaveGpus()         ? Verdict::kFail
                  : !blacklisted && node.HaveGpus() ? Verdict::kWarn
                                                    : Verdict::kOk;
  if (check.verdict != Verdict::kOk) {
    check.hint =
        "add 'blacklist nouveau' and 'options nouveau modeset=0' to "
        "/etc/modprobe.d/blacklist-nouveau.conf, update the initramfs, reboot";
  }
  return check;
}

DoctorCheck VfioModules(const Node& node) {
  DoctorCheck check{.name = "vfio modules"};
  const bool driver = node.root.Exists("/sys/bus/pci/drivers/vfio-pci");
  const bool available = absl::StrContains(host::ReadModulesAlias(node.root), "vfio_pci");
  const bool modules = node.root.Exists("/proc/modules");
  check.detail = driver      ? "vfio-pci loaded"
                 : available ? "vfio_pci available, not loaded (the vfio-manager loads it)"
                 : modules   ? "vfio_pci not found in this kernel's modules"
                             : "this kernel has no loadable module support";
  check.verdict = driver || available ? Verdict::kOk
                  : node.HaveGpus()   ? Verdict::kFail
                                      : Verdict::kWarn;
  if (check.verdict != Verdict::kOk) check.hint = "install the kernel's modules package";
  return check;
}

DoctorCheck GpuDrivers(const Node& node) {
  DoctorCheck check{.name = "GPU drivers"};
  std::vector<std::string> off_vfio;
  for (const host::PciDevice* gpu : node.gpus) {
    if (!host::IsVfioDriver(gpu->driver)) {
      off_vfio.push_back(
          absl::StrCat(gpu->address, " on ", gpu->driver.empty() ? "none" : gpu->driver));
    }
  }
  if (!node.HaveGpus()) {
    check.verdict = Verdict::kSkip;
    check.detail = "no GPUs";
  } else if (off_vfio.empty()) {
    check.verdict = Verdict::kOk;
    check.detail = "every GPU is on a vfio driver";
  } else {
    check.verdict = Verdict::kWarn;
    check.detail = absl::StrJoin(off_vfio, "; ");
    check.hint =
        "for vm-passthrough, label the node nvidia.com/gpu.workload.config="
        "vm-passthrough; the vfio-manager binds them";
  }
  return check;
}

DoctorCheck GpuIommuGroups(const Node& node) {
  DoctorCheck check{.name = "IOMMU groups of GPUs"};
  std::vector<std::string> problems;
  for (const host::PciDevice* gpu : node.gpus) {
    if (!gpu->iommu_group.has_value()) continue;
    const auto group = node.groups.find(*gpu->iommu_group);
    if (group == node.groups.end()) continue;
    for (const host::PciDevice* peer : group->second) {
      if (peer == gpu || peer->IsPciBridge()) continue;
      if (peer->vendor != host::kNvidiaVendorId) {
        problems.push_back(absl::StrCat("group ", *gpu->iommu_group, " of ", gpu->address,
                                        " also holds ", Describe(*peer, nullptr)));
      }
    }
  }
  const bool have_gpus = node.HaveGpus();
  check.verdict = !have_gpus ? Verdict::kSkip : problems.empty() ? Verdict::kOk : Verdict::kWarn;
  check.detail = !have_gpus         ? "no GPUs"
                 : problems.empty() ? "each GPU's group holds only its own functions"
                                    : absl::StrJoin(problems, "; ");
  if (!problems.empty()) {
    check.hint =
        "a foreign device in a GPU's group goes to the VM too: move the card to "
        "another slot or enable ACS in the BIOS";
  }
  return check;
}

DoctorCheck DevVfio(const Node& node) {
  DoctorCheck check{.name = "/dev/vfio"};
  const bool container = node.root.Exists("/dev/vfio/vfio");
  const size_t nodes = node.root.List("/dev/vfio").size();
  const bool iommufd = node.root.Exists("/dev/iommu");
  check.detail = absl::StrCat(container ? "/dev/vfio/vfio present" : "no /dev/vfio/vfio", ", ",
                              nodes > 0 && container ? nodes - 1 : 0, " group nodes",
                              iommufd ? ", iommufd (/dev/iommu) present" : ", no iommufd");
  check.verdict = container ? Verdict::kOk : node.HaveGpus() ? Verdict::kWarn : Verdict::kInfo;
  return check;
}

DoctorCheck CpuTee(const Node& node) {
  DoctorCheck check{.name = "CPU TEE"};
  const bool snp = ParameterEnabled(node.root, "/sys/module/kvm_amd/parameters/sev_snp");
  const bool tdx = ParameterEnabled(node.root, "/sys/module/kvm_intel/parameters/tdx");
  check.verdict = snp || tdx ? Verdict::kOk : Verdict::kInfo;
  check.detail = snp   ? "AMD SEV-SNP enabled"
                 : tdx ? "Intel TDX enabled"
                       : "none enabled: CC mode stays off";
  if (!snp && !tdx) {
    check.hint = "for confidential containers enable SEV-SNP or TDX in the BIOS and kvm module";
  }
  return check;
}

DoctorCheck CcCapableGpus(const Node& node) {
  DoctorCheck check{.name = "CC-capable GPUs"};
  std::vector<std::string> capable;
  for (const host::PciDevice* gpu : node.gpus) {
    if (host::IsCcCapableGpu(gpu->device)) {
      capable.push_back(
          absl::StrCat(gpu->address, " (", std::string(host::GpuArchitecture(gpu->device)), ")"));
    }
  }
  check.verdict = !node.HaveGpus() ? Verdict::kSkip : Verdict::kInfo;
  check.detail = !node.HaveGpus()
                     ? "no GPUs"
                     : absl::StrCat(capable.size(), " of ", node.gpus.size(),
                                    capable.empty() ? "" : ": ", absl::StrJoin(capable, ", "));
  return check;
}

// Two pieces from two installers: Kata itself (the shim), which gpuop does not install, and the
// GPU guest artifacts, which gpuop's Kata manager does. The hint names who installs what is
// missing.
DoctorCheck KataArtifacts(const Node& node) {
  constexpr char kShim[] = "/opt/kata/bin/containerd-shim-kata-v2";
  DoctorCheck check{.name = "Kata artifacts"};
  std::vector<std::string> found;
  std::vector<std::string> hints;
  if (node.root.Exists(kShim)) {
    found.push_back(kShim);
  } else {
    hints.push_back(
        "install Kata Containers, which puts the shim in /opt/kata: kata-deploy (NVIDIA's "
        "current docs) or the Confidential Containers operator's CcRuntime (the seeds')");
  }
  if (node.root.Exists(api::kDefaultKataArtifactsDir)) {
    found.push_back(api::kDefaultKataArtifactsDir);
  } else {
    hints.push_back(
        "gpuop's Kata manager pulls the GPU guest artifacts once the node runs the sandbox path "
        "(nvidia.com/gpu.workload.config=vm-passthrough, kataManager.enabled=true)");
  }
  check.verdict = hints.empty() ? Verdict::kOk : Verdict::kInfo;
  check.detail = found.empty() ? "none installed" : absl::StrJoin(found, ", ");
  check.hint = absl::StrJoin(hints, "; ");
  return check;
}

DoctorCheck ContainerdHandlers(const Node& node) {
  DoctorCheck check{.name = "containerd runtime handlers"};
  std::vector<std::string> handlers;
  const std::vector<std::string> files = ContainerdConfigs(node.root);
  for (const std::string& file : files) {
    const std::string text = node.root.Read(file).value_or("");
    for (const char* handler :
         {"kata-qemu-nvidia-gpu-snp", "kata-qemu-nvidia-gpu-tdx", "kata-qemu-nvidia-gpu"}) {
      if (absl::StrContains(text, absl::StrCat("runtimes.", handler, "]")) ||
          absl::StrContains(text, absl::StrCat("runtimes.\"", handler, "\"]"))) {
        handlers.push_back(handler);
      }
    }
  }
  check.verdict = handlers.empty() ? Verdict::kInfo : Verdict::kOk;
  check.detail = files.empty() ? "no containerd config found"
                 : handlers.empty()
                     ? absl::StrCat("no Kata handler in ", absl::StrJoin(files, ", "))
                     : absl::StrJoin(handlers, ", ");
  return check;
}

}  // namespace

absl::Status ValidateHostRoot(const std::string& path) {
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) {
    // Not there is the common case; anything else (no permission to look) says why.
    const std::string why = error && error != std::errc::no_such_file_or_directory
                                ? absl::StrCat(": ", error.message())
                                : "";
    return absl::InvalidArgumentError(
        absl::StrCat("host root \"", path, "\" (--host-root or $HOST_ROOT) does not exist", why));
  }
  if (!std::filesystem::is_directory(status)) {
    return absl::InvalidArgumentError(
        absl::StrCat("host root \"", path, "\" (--host-root or $HOST_ROOT) is not a directory"));
  }
  return absl::OkStatus();
}

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kOk:
      return "ok";
    case Verdict::kWarn:
      return "warn";
    case Verdict::kFail:
      return "fail";
    case Verdict::kInfo:
      return "info";
    case Verdict::kSkip:
      return "skip";
  }
  return "info";
}

bool DoctorReport::Failed() const {
  return std::any_of(checks.begin(), checks.end(),
                     [](const DoctorCheck& check) { return check.verdict == Verdict::kFail; });
}

DoctorReport RunDoctorChecks(const host::HostRoot& root) {
  DoctorReport report;
  if (std::optional<DoctorCheck> missing = MissingSysfs(root)) {
    report.checks.push_back(*std::move(missing));
    return report;
  }
  Node node{.root = root, .scan = host::ScanPciDevices(root), .ids = host::PciIds::Load(root)};
  node.groups = host::DevicesByIommuGroup(node.scan);
  for (const host::PciDevice& device : node.scan.devices) {
    if (device.IsNvidiaGpu()) node.gpus.push_back(&device);
  }
  report.gpus = node.gpus.size();
  for (DoctorCheck (*check)(const Node&) :
       {NvidiaGpus, CpuVirtualization, Iommu, KernelCommandLine, Nouveau, VfioModules, GpuDrivers,
        GpuIommuGroups, DevVfio, CpuTee, CcCapableGpus, KataArtifacts, ContainerdHandlers}) {
    report.checks.push_back(check(node));
  }
  report.checks.push_back(PodResourcesGet(root));
  return report;
}

}  // namespace gpuop::doctor
