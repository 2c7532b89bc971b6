#include "operands/validator/driver_features.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "common/atomic_file.h"
#include "common/printable.h"

namespace gpuop::operands {
namespace {

// YAML 1.1's booleans, which the Go YAML decoder NVIDIA's validator uses still reads into a bool.
std::optional<bool> YamlBool(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "no" || lower == "off") return false;
  return std::nullopt;
}

}  // namespace

absl::StatusOr<std::set<std::string>> EnabledDriverFeatures(std::string_view text) {
  std::set<std::string> enabled;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++number;
    const absl::string_view content = absl::StripAsciiWhitespace(line.substr(0, line.find(" #")));
    if (content.empty() || content.front() == '#' || content == "---") continue;
    const size_t colon = content.find(':');
    const std::optional<bool> value =
        colon == absl::string_view::npos
            ? std::nullopt
            : YamlBool(absl::StripAsciiWhitespace(content.substr(colon + 1)));
    const absl::string_view key = absl::StripAsciiWhitespace(content.substr(0, colon));
    if (!value.has_value() || key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(api::kDriverCtrReadyFile, " line ", number, " is not `KEY: true|false`: \"",
                       common::Printable(std::string_view(line.data(), line.size()), 80), "\""));
    }
    if (*value) enabled.emplace(std::string(key));
  }
  return enabled;
}

absl::StatusOr<bool> ModuleLoadedPerProcModules(const host::HostRoot& root,
                                                std::string_view module_view) {
  const absl::string_view module(module_view.data(), module_view.size());
  absl::StatusOr<std::string> modules = root.Read("/proc/modules");
  if (!modules.ok()) return modules.status();
  for (absl::string_view line : absl::StrSplit(*modules, '\n')) {
    // "nvidia_fs 245760 0 - Live 0xffffffffc0a00000 (OE)": the name, then a space.
    if (line.size() > module.size() && line.substr(0, module.size()) == module &&
        line[module.size()] == ' ') {
      return true;
    }
  }
  return false;
}

absl::StatusOr<std::vector<std::string>> ValidateDriverFeatures(
    const std::set<std::string>& enabled, const host::HostRoot& root,
    const std::string& validations_dir) {
  std::vector<std::string> written;
  for (const DriverFeature& feature : kDriverFeatures) {
    if (!enabled.contains(feature.key)) continue;
    absl::StatusOr<bool> loaded = ModuleLoadedPerProcModules(root, feature.module);
    if (!loaded.ok()) return loaded.status();
    if (!*loaded) {
      return absl::FailedPreconditionError(absl::StrCat(
          feature.name, " is on (", feature.key, " in ", api::kDriverCtrReadyFile, ") but module ",
          feature.module, " is not loaded (see the driver container's log)"));
    }
    const std::string ready = absl::StrCat(validations_dir, "/", feature.ready_file);
    if (absl::Status status = common::WriteFileAtomically(ready, ""); !status.ok()) return status;
    written.push_back(ready);
  }
  return written;
}

}  // namespace gpuop::operands
