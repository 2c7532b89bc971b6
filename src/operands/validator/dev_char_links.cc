#include "operands/validator/dev_char_links.h"

#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#include "host/pci_device.h"

namespace gpuop::operands {
namespace {

// Minors on the `nvidia` and `nvidia-uvm` majors (the driver's nv.h and uvm_common.h).
constexpr int kNvidiaCtlMinor = 255;
constexpr int kNvidiaModesetMinor = 254;
constexpr int kNvidiaUvmMinor = 0;
constexpr int kNvidiaUvmToolsMinor = 1;

// "<number> <name>" lines: what /proc/devices and mig-minors are made of.
std::vector<std::pair<std::string, int>> NumberedNames(absl::string_view text, bool number_first) {
  std::vector<std::pair<std::string, int>> entries;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> words =
        absl::StrSplit(absl::StripAsciiWhitespace(line), ' ', absl::SkipEmpty());
    int number = 0;
    if (words.size() != 2 || !absl::SimpleAtoi(words[number_first ? 0 : 1], &number)) continue;
    entries.emplace_back(std::string(words[number_first ? 1 : 0]), number);
  }
  return entries;
}

}  // namespace

std::map<std::string, int> NvidiaCharMajors(std::string_view proc_devices) {
  // Only the character section: a block device of the same name has nothing to do with these.
  absl::string_view characters(proc_devices.data(), proc_devices.size());
  if (const size_t block = characters.find("Block devices:"); block != absl::string_view::npos) {
    characters = characters.substr(0, block);
  }
  std::map<std::string, int> majors;
  for (auto& [name, major] : NumberedNames(characters, /*number_first=*/true)) {
    if (absl::StartsWith(name, "nvidia")) majors.emplace(name, major);
  }
  return majors;
}

std::map<std::string, int> MigMinors(std::string_view mig_minors) {
  std::map<std::string, int> minors;
  for (auto& [cap, minor] :
       NumberedNames(absl::string_view(mig_minors.data(), mig_minors.size()), false)) {
    minors.emplace(cap, minor);
  }
  return minors;
}

absl::StatusOr<std::vector<DevCharLink>> PlanDevCharLinks(const std::map<std::string, int>& majors,
                                                          int gpus,
                                                          const std::map<std::string, int>& mig,
                                                          std::string_view dev_root) {
  std::vector<DevCharLink> links;
  if (gpus <= 0) return links;
  auto major = majors.find("nvidia");
  // Drivers before 550 name the GPU major "nvidia-frontend".
  if (major == majors.end()) major = majors.find("nvidia-frontend");
  if (major == majors.end()) {
    return absl::FailedPreconditionError(
        "/proc/devices has no nvidia character major: the nvidia module is not loaded");
  }
  const std::string root(
      absl::StripSuffix(absl::string_view(dev_root.data(), dev_root.size()), "/"));
  const auto add = [&](int on_major, int minor, absl::string_view node) {
    links.push_back({absl::StrCat(on_major, ":", minor), absl::StrCat(root, "/dev/", node)});
  };
  add(major->second, kNvidiaModesetMinor, "nvidia-modeset");
  add(major->second, kNvidiaCtlMinor, "nvidiactl");
  // nvidia-uvm is loaded apart from nvidia (the driver container loads it; CUDA's first call
  // does otherwise): until it is, it has no major and no links.
  if (const auto uvm = majors.find("nvidia-uvm"); uvm != majors.end()) {
    add(uvm->second, kNvidiaUvmMinor, "nvidia-uvm");
    add(uvm->second, kNvidiaUvmToolsMinor, "nvidia-uvm-tools");
  }
  const auto caps = majors.find("nvidia-caps");
  const auto add_cap = [&](const std::string& cap) {
    const auto minor = mig.find(cap);
    if (caps == majors.end() || minor == mig.end()) return false;
    add(caps->second, minor->second, absl::StrCat("nvidia-caps/nvidia-cap", minor->second));
    return true;
  };
  add_cap("config");
  add_cap("monitor");
  for (int gpu = 0; gpu < gpus; ++gpu) {
    add(major->second, gpu, absl::StrCat("nvidia", gpu));
    // A GPU's instances are numbered from 0 without gaps in mig-minors, which lists every
    // possible one (not only those that exist now).
    for (int gi = 0; add_cap(absl::StrCat("gpu", gpu, "/gi", gi, "/access")); ++gi) {
      for (int ci = 0; add_cap(absl::StrCat("gpu", gpu, "/gi", gi, "/ci", ci, "/access")); ++ci) {
      }
    }
  }
  return links;
}

absl::StatusOr<std::vector<DevCharLink>> PlanDevCharLinksOnHost(const host::HostRoot& root,
                                                                std::string_view dev_root) {
  absl::StatusOr<std::string> devices = root.Read("/proc/devices");
  if (!devices.ok()) return devices.status();
  int gpus = 0;
  const host::PciScan scan = host::ScanPciDevices(root);
  for (const host::PciDevice& device : scan.devices) {
    if (device.IsNvidiaGpu()) ++gpus;
  }
  // Absent until the driver has been asked for MIG once: no capability devices then.
  absl::StatusOr<std::string> mig = root.Read("/proc/driver/nvidia-caps/mig-minors");
  return PlanDevCharLinks(NvidiaCharMajors(*devices), gpus, MigMinors(mig.ok() ? *mig : ""),
                          dev_root);
}

DevCharLinkResult CreateDevCharLinks(const std::vector<DevCharLink>& links,
                                     const std::string& dev_char_dir) {
  DevCharLinkResult result;
  if (links.empty()) return result;
  std::error_code made;
  std::filesystem::create_directories(dev_char_dir, made);
  for (const DevCharLink& link : links) {
    const std::string path = absl::StrCat(dev_char_dir, "/", link.name);
    if (::symlink(link.target.c_str(), path.c_str()) == 0) {
      ++result.created;
    } else if (errno == EEXIST) {
      ++result.existing;
    } else {
      result.failed.push_back(
          absl::StrCat(path, ": ", std::error_code(errno, std::generic_category()).message()));
    }
  }
  return result;
}

}  // namespace gpuop::operands
