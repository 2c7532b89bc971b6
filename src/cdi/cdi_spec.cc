#include "cdi/cdi_spec.h"

#include <set>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace gpuop::cdi {
namespace {

bool IsAlnum(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); }

// The upstream parser's rule for a vendor or a class (pkg/parser): a letter first, a letter or
// digit last, and letters, digits, '_', '-' or '.' between.
bool IsValidQualifier(std::string_view part) {
  if (part.empty() || !absl::ascii_isalpha(static_cast<unsigned char>(part.front())) ||
      !IsAlnum(part.back())) {
    return false;
  }
  for (char c : part) {
    if (!IsAlnum(c) && c != '_' && c != '-' && c != '.') return false;
  }
  return true;
}

// A device name: a letter or digit at both ends, and letters, digits, '_', '-', '.', ':' between.
bool IsValidDeviceName(std::string_view name) {
  if (name.empty() || !IsAlnum(name.front()) || !IsAlnum(name.back())) return false;
  for (char c : name) {
    if (!IsAlnum(c) && c != '_' && c != '-' && c != '.' && c != ':') return false;
  }
  return true;
}

// "0.5.0" -> 500, so versions compare as numbers; -1 for anything else.
int VersionNumber(std::string version) {
  if (!version.empty() && version.front() == 'v') version.erase(0, 1);
  const std::vector<std::string> parts = absl::StrSplit(version, '.');
  if (parts.size() != 3) return -1;
  int number = 0;
  for (const std::string& part : parts) {
    int value = 0;
    if (!absl::SimpleAtoi(part, &value) || value < 0 || value > 99) return -1;
    number = number * 100 + value;
  }
  return number;
}

// The versions the upstream library knows (specs-go/version.go).
const std::set<int>& KnownVersions() {
  static const auto* const known =
      new std::set<int>{100, 200, 300, 400, 500, 600, 700, 800, 10000, 10100};
  return *known;
}

// The lowest version that can express the spec (specs-go MinimumRequiredVersion, for the
// fields this model has).
int MinimumVersion(const Spec& spec) {
  int minimum = 300;
  const std::string_view kind = spec.kind;
  const size_t slash = kind.find('/');
  if (slash != std::string_view::npos && kind.substr(slash + 1).find('.') != std::string::npos) {
    minimum = 600;
  }
  for (const Device& device : spec.devices) {
    if (!device.name.empty() && absl::ascii_isdigit(static_cast<unsigned char>(device.name[0]))) {
      minimum = std::max(minimum, 500);
    }
    for (const DeviceNode& node : device.device_nodes) {
      if (!node.host_path.empty()) minimum = std::max(minimum, 500);
    }
  }
  return minimum;
}

absl::Status ValidateNode(const DeviceNode& node, const std::string& where) {
  if (node.path.empty() || node.path.front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".path: \"", node.path, "\" is not an absolute path"));
  }
  if (!node.host_path.empty() && node.host_path.front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".hostPath: \"", node.host_path, "\" is not an absolute path"));
  }
  if (!node.type.empty() && node.type != "c" && node.type != "b" && node.type != "u" &&
      node.type != "p") {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".type: \"", node.type, "\" is not one of b, c, u, p"));
  }
  if (!node.permissions.empty() && node.permissions != "none") {
    for (char c : node.permissions) {
      if (c != 'r' && c != 'w' && c != 'm') {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".permissions: \"", node.permissions, "\" is not a subset of rwm"));
      }
    }
  }
  return absl::OkStatus();
}

// A JSON string is a valid YAML double-quoted scalar, and escapes whatever needs it.
std::string Quoted(const std::string& text) { return nlohmann::json(text).dump(); }

}  // namespace

absl::Status ValidateSpec(const Spec& spec) {
  const int version = VersionNumber(spec.cdi_version);
  if (!KnownVersions().contains(version)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cdiVersion: \"", spec.cdi_version, "\" is not a CDI version"));
  }
  const size_t slash = spec.kind.find('/');
  const std::string_view kind = spec.kind;
  if (slash == std::string::npos || !IsValidQualifier(kind.substr(0, slash)) ||
      !IsValidQualifier(kind.substr(slash + 1))) {
    return absl::InvalidArgumentError(
        absl::StrCat("kind: \"", spec.kind, "\" is not vendor/class (\"nvidia.com/pgpu\")"));
  }
  if (spec.devices.empty()) return absl::InvalidArgumentError("devices: a spec needs one or more");
  std::set<std::string> names;
  for (size_t i = 0; i < spec.devices.size(); ++i) {
    const Device& device = spec.devices[i];
    const std::string where = absl::StrCat("devices[", i, "]");
    if (!IsValidDeviceName(device.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".name: \"", device.name, "\" is not a valid CDI device name"));
    }
    if (!names.insert(device.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".name: \"", device.name, "\" appears twice"));
    }
    if (device.device_nodes.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".containerEdits: device \"", device.name, "\" has no edits"));
    }
    for (size_t n = 0; n < device.device_nodes.size(); ++n) {
      if (absl::Status node = ValidateNode(
              device.device_nodes[n], absl::StrCat(where, ".containerEdits.deviceNodes[", n, "]"));
          !node.ok()) {
        return node;
      }
    }
  }
  if (const int minimum = MinimumVersion(spec); version < minimum) {
    return absl::InvalidArgumentError(
        absl::StrCat("cdiVersion: \"", spec.cdi_version, "\" is too old for this spec; it needs ",
                     minimum / 10000, ".", minimum / 100 % 100, ".", minimum % 100));
  }
  return absl::OkStatus();
}

std::string RenderSpec(const Spec& spec) {
  std::string out = kSpecHeader;
  absl::StrAppend(&out, "cdiVersion: ", Quoted(spec.cdi_version), "\n");
  absl::StrAppend(&out, "kind: ", Quoted(spec.kind), "\n");
  absl::StrAppend(&out, "devices:\n");
  for (const Device& device : spec.devices) {
    absl::StrAppend(&out, "- name: ", Quoted(device.name), "\n");
    absl::StrAppend(&out, "  containerEdits:\n    deviceNodes:\n");
    for (const DeviceNode& node : device.device_nodes) {
      absl::StrAppend(&out, "    - path: ", Quoted(node.path), "\n");
      if (!node.host_path.empty()) {
        absl::StrAppend(&out, "      hostPath: ", Quoted(node.host_path), "\n");
      }
      if (!node.type.empty()) {
        absl::StrAppend(&out, "      type: ", Quoted(node.type), "\n");
        absl::StrAppend(&out, "      major: ", node.major, "\n");
        absl::StrAppend(&out, "      minor: ", node.minor, "\n");
      }
      if (!node.permissions.empty()) {
        absl::StrAppend(&out, "      permissions: ", Quoted(node.permissions), "\n");
      }
    }
  }
  return out;
}

std::string SpecFileName(const std::string& kind) {
  return absl::StrCat(absl::StrReplaceAll(kind, {{"/", "-"}}), ".yaml");
}

}  // namespace gpuop::cdi
