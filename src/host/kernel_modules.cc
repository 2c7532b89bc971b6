#include "host/kernel_modules.h"

#include <fnmatch.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"

namespace gpuop::host {
namespace {

constexpr std::string_view kAliasPrefix = "alias vfio_pci:";

}  // namespace

std::string VfioModuleFor(std::string_view modalias, std::string_view modules_alias) {
  const std::string subject = absl::StrCat("vfio_", std::string(modalias));
  std::string best = kVfioPciModule;
  size_t best_wildcards = std::string::npos;
  size_t at = 0;
  while (at < modules_alias.size()) {
    size_t end = modules_alias.find('\n', at);
    if (end == std::string_view::npos) end = modules_alias.size();
    const std::string_view line = modules_alias.substr(at, end - at);
    at = end + 1;
    if (!line.starts_with(kAliasPrefix)) continue;
    // "alias <pattern> <module>"
    const size_t pattern_start = 6;
    const size_t space = line.find(' ', pattern_start);
    if (space == std::string_view::npos) continue;
    const std::string pattern(line.substr(pattern_start, space - pattern_start));
    const std::string module(line.substr(space + 1));
    if (module.empty() || fnmatch(pattern.c_str(), subject.c_str(), 0) != 0) continue;
    const auto wildcards = static_cast<size_t>(std::count(pattern.begin(), pattern.end(), '*'));
    if (wildcards < best_wildcards) {
      best = module;
      best_wildcards = wildcards;
    }
  }
  return best;
}

std::string ReadModulesAlias(const HostRoot& root) {
  const std::string release = root.ReadTrimmed("/proc/sys/kernel/osrelease").value_or("");
  if (release.empty()) return "";
  return root.Read(absl::StrCat("/lib/modules/", release, "/modules.alias")).value_or("");
}

std::vector<std::string> DriverNamesOfModule(std::string_view module) {
  std::string dashed(module);
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  if (module == kVfioPciModule) return {dashed, std::string(module)};
  if (dashed == module) return {std::string(module)};
  return {std::string(module), dashed};
}

bool IsVfioDriver(std::string_view driver) {
  return driver == kVfioPciDriver || driver.ends_with("_vfio_pci") || driver.ends_with("-vfio-pci");
}

bool ModuleLoaded(const HostRoot& root, std::string_view module) {
  return root.Exists(absl::StrCat("/sys/module/", std::string(module)));
}

}  // namespace gpuop::host
