#include "operator/device_plugin_config_check.h"

#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "api/names.h"
#include "common/printable.h"
#include "common/status_macros.h"
#include "kube/manifest.h"
#include "operator/config_field.h"

namespace gpuop::op {
namespace {

using nlohmann::json;

// The plugin's limit on a resource name with its prefix (api/config/v1/consts.go).
constexpr size_t kMaxResourceNameLength = 63;
constexpr char kResourcePrefix[] = "nvidia.com/";
// Fewer than two replicas shares nothing; the plugin refuses it.
constexpr int64_t kMinReplicas = 2;

std::string Shown(std::string_view value) {
  return absl::StrCat("\"", common::Printable(value, 80), "\"");
}

class Checker {
 public:
  explicit Checker(const kube::YamlLines& lines) : lines_(lines) {}

  absl::Status Document(const json& doc) {
    const ConfigField root;
    if (doc.is_null()) return absl::OkStatus();  // Empty: the plugin's defaults.
    if (!doc.is_object()) return root.Error(lines_, "is not a mapping of version, flags, sharing");
    for (const auto& [key, value] : doc.items()) {
      if (!IsOneOf(key, {"version", "flags", "resources", "sharing", "imex"})) {
        return root.Key(key).Error(lines_,
                                   "is not a field of the device plugin's config (version, flags, "
                                   "resources, sharing, imex): the plugin would ignore it");
      }
    }
    if (const json* version = FindConfigValue(doc, "version")) {
      if (!version->is_string() ||
          (*version != "v1" && !version->get_ref<const std::string&>().empty())) {
        return root.Key("version").Error(lines_, absl::StrCat(ShownConfigValue(*version),
                                                              " is not a version the plugin reads "
                                                              "(v1)"));
      }
    }
    if (const json* flags = FindConfigValue(doc, "flags")) {
      GPUOP_RETURN_IF_ERROR(Flags(*flags, root.Key("flags")));
    }
    if (const json* resources = FindConfigValue(doc, "resources")) {
      GPUOP_RETURN_IF_ERROR(Resources(*resources, root.Key("resources")));
    }
    if (const json* sharing = FindConfigValue(doc, "sharing")) {
      GPUOP_RETURN_IF_ERROR(Sharing(*sharing, root.Key("sharing")));
    }
    if (const json* imex = FindConfigValue(doc, "imex"))
      GPUOP_RETURN_IF_ERROR(Imex(*imex, root.Key("imex")));
    return absl::OkStatus();
  }

 private:
  static bool IsOneOf(std::string_view value, std::initializer_list<std::string_view> allowed) {
    for (std::string_view candidate : allowed) {
      if (value == candidate) return true;
    }
    return false;
  }
  absl::Status Bool(const json& object, const char* key, const ConfigField& at) {
    const json* value = FindConfigValue(object, key);
    if (value != nullptr && !value->is_boolean()) {
      return at.Key(key).Error(lines_,
                               absl::StrCat(ShownConfigValue(*value), " is not true or false"));
    }
    return absl::OkStatus();
  }
  absl::Status Enum(const json& object, const char* key, const ConfigField& at,
                    std::initializer_list<std::string_view> allowed) {
    const json* value = FindConfigValue(object, key);
    if (value == nullptr) return absl::OkStatus();
    if (value->is_string() && IsOneOf(value->get<std::string>(), allowed)) return absl::OkStatus();
    return at.Key(key).Error(
        lines_, absl::StrCat(
                    ShownConfigValue(*value), " is not one of ",
                    absl::StrJoin(std::vector<std::string>(allowed.begin(), allowed.end()), ", ")));
  }

  absl::Status String(const json& object, const char* key, const ConfigField& at) {
    const json* value = FindConfigValue(object, key);
    if (value != nullptr && !value->is_string()) {
      return at.Key(key).Error(lines_, absl::StrCat(ShownConfigValue(*value), " is not a string"));
    }
    return absl::OkStatus();
  }

  // A Go duration as time.ParseDuration reads it ("30s", "1m30s", "1.5h", "0"), or a number
  // of nanoseconds: GFD's sleepInterval.
  static bool IsGoDuration(const json& value) {
    if (value.is_number()) return true;
    if (!value.is_string()) return false;
    std::string_view text = value.get_ref<const std::string&>();
    if (!text.empty() && (text.front() == '+' || text.front() == '-')) text.remove_prefix(1);
    if (text == "0") return true;
    if (text.empty()) return false;
    while (!text.empty()) {
      size_t digits = 0;
      bool point = false;
      while (digits < text.size() &&
             (absl::ascii_isdigit(static_cast<unsigned char>(text[digits])) ||
              (text[digits] == '.' && !point))) {
        point = point || text[digits] == '.';
        ++digits;
      }
      if (digits == 0 || text.substr(0, digits) == ".") return false;
      text.remove_prefix(digits);
      bool unit = false;
      for (std::string_view candidate : {"ns", "us", "\u00b5s", "\u03bcs", "ms", "s", "m", "h"}) {
        if (text.starts_with(candidate)) {
          text.remove_prefix(candidate.size());
          unit = true;
          break;
        }
      }
      if (!unit) return false;
    }
    return true;
  }

  absl::Status Flags(const json& flags, const ConfigField& at) {
    if (!flags.is_object()) return at.Error(lines_, "is not a mapping");
    GPUOP_RETURN_IF_ERROR(Enum(flags, "migStrategy", at, {"none", "single", "mixed"}));
    GPUOP_RETURN_IF_ERROR(Bool(flags, "failOnInitError", at));
    GPUOP_RETURN_IF_ERROR(Bool(flags, "gdsEnabled", at));
    GPUOP_RETURN_IF_ERROR(Bool(flags, "mofedEnabled", at));
    GPUOP_RETURN_IF_ERROR(Bool(flags, "useNodeFeatureAPI", at));
    for (const char* key : {"mpsRoot", "nvidiaDriverRoot", "nvidiaDevRoot"}) {
      GPUOP_RETURN_IF_ERROR(String(flags, key, at));
    }
    GPUOP_RETURN_IF_ERROR(Enum(flags, "deviceDiscoveryStrategy", at, {"auto", "nvml", "tegra"}));
    if (const json* gfd = FindConfigValue(flags, "gfd")) {
      const ConfigField gfd_at = at.Key("gfd");
      if (!gfd->is_object()) return gfd_at.Error(lines_, "is not a mapping");
      GPUOP_RETURN_IF_ERROR(Bool(*gfd, "oneshot", gfd_at));
      GPUOP_RETURN_IF_ERROR(Bool(*gfd, "noTimestamp", gfd_at));
      GPUOP_RETURN_IF_ERROR(String(*gfd, "outputFile", gfd_at));
      GPUOP_RETURN_IF_ERROR(String(*gfd, "machineTypeFile", gfd_at));
      if (const json* interval = FindConfigValue(*gfd, "sleepInterval");
          interval && !IsGoDuration(*interval)) {
        return gfd_at.Key("sleepInterval")
            .Error(lines_,
                   absl::StrCat(ShownConfigValue(*interval), " is not a duration (60s, 1m30s)"));
      }
    }
    const json* plugin = FindConfigValue(flags, "plugin");
    if (plugin == nullptr) return absl::OkStatus();
    const ConfigField plugin_at = at.Key("plugin");
    if (!plugin->is_object()) return plugin_at.Error(lines_, "is not a mapping");
    GPUOP_RETURN_IF_ERROR(Bool(*plugin, "passDeviceSpecs", plugin_at));
    GPUOP_RETURN_IF_ERROR(Enum(*plugin, "deviceIDStrategy", plugin_at, {"uuid", "index"}));
    for (const char* key : {"cdiAnnotationPrefix", "nvidiaCTKPath", "containerDriverRoot"}) {
      GPUOP_RETURN_IF_ERROR(String(*plugin, key, plugin_at));
    }
    if (const json* strategies = FindConfigValue(*plugin, "deviceListStrategy")) {
      const ConfigField list_at = plugin_at.Key("deviceListStrategy");
      // One strategy, or a list of them.
      const json list = strategies->is_array() ? *strategies : json::array({*strategies});
      for (size_t i = 0; i < list.size(); ++i) {
        const json& strategy = list[i];
        if (!strategy.is_string() ||
            !IsOneOf(strategy.get<std::string>(),
                     {"envvar", "volume-mounts", "cdi-annotations", "cdi-cri"})) {
          return (strategies->is_array() ? list_at.Index(i) : list_at)
              .Error(lines_, absl::StrCat(ShownConfigValue(strategy),
                                          " is not one of envvar, volume-mounts, "
                                          "cdi-annotations, cdi-cri"));
        }
      }
    }
    return absl::OkStatus();
  }

  // A resource name as the plugin takes it: "nvidia.com/" is added where missing, and the rest
  // must be a DNS subdomain.
  absl::Status ResourceName(const json& value, const ConfigField& at) {
    if (!value.is_string())
      return at.Error(lines_, absl::StrCat(ShownConfigValue(value), " is not a string"));
    std::string name = value.get<std::string>();
    if (!absl::StartsWith(name, kResourcePrefix)) name = absl::StrCat(kResourcePrefix, name);
    if (name.size() > kMaxResourceNameLength) {
      return at.Error(lines_, absl::StrCat(Shown(name), " is longer than ", kMaxResourceNameLength,
                                           " characters"));
    }
    if (!api::IsDnsSubdomain(name.substr(std::string_view(kResourcePrefix).size()))) {
      return at.Error(lines_, absl::StrCat(Shown(name),
                                           " is not a resource name (nvidia.com/ and lower-case "
                                           "letters, digits, '-' and '.')"));
    }
    return absl::OkStatus();
  }

  absl::Status Resources(const json& resources, const ConfigField& at) {
    if (!resources.is_object()) return at.Error(lines_, "is not a mapping of gpus and mig");
    for (const auto& [key, list] : resources.items()) {
      const ConfigField list_at = at.Key(key);
      if (key != "gpus" && key != "mig") {
        return list_at.Error(lines_, "is not gpus or mig: the plugin would ignore it");
      }
      if (list.is_null()) continue;
      if (!list.is_array()) return list_at.Error(lines_, "is not a list of {pattern, name}");
      for (size_t i = 0; i < list.size(); ++i) {
        const ConfigField item_at = list_at.Index(i);
        const json& item = list[i];
        if (!item.is_object()) return item_at.Error(lines_, "is not a mapping of pattern, name");
        const json* pattern = FindConfigValue(item, "pattern");
        if (pattern == nullptr || !pattern->is_string()) {
          return item_at.Key("pattern").Error(lines_, "is missing or not a string");
        }
        const json* name = FindConfigValue(item, "name");
        if (name == nullptr) return item_at.Key("name").Error(lines_, "is missing");
        GPUOP_RETURN_IF_ERROR(ResourceName(*name, item_at.Key("name")));
      }
    }
    return absl::OkStatus();
  }

  // A device of a replicated resource's list: a GPU index, a MIG index ("0:1"), or a GPU or MIG
  // UUID.
  static bool IsDeviceRef(const json& device) {
    if (device.is_number_unsigned()) return true;
    if (device.is_number_integer()) return device.get<int64_t>() >= 0;
    if (!device.is_string()) return false;
    const std::string text = device.get<std::string>();
    uint64_t index = 0;
    if (absl::SimpleAtoi(text, &index) && absl::ascii_isdigit(text.front())) return true;
    const size_t colon = text.find(':');
    if (colon != std::string::npos && IsDigits(std::string_view(text).substr(0, colon)) &&
        IsDigits(std::string_view(text).substr(colon + 1))) {
      return true;
    }
    return IsGpuUuid(text) || IsMigUuid(text);
  }
  // A UUID in a form github.com/google/uuid's Parse takes, which the plugin uses: 36 characters
  // with dashes, 32 hex digits, in braces, or after "urn:uuid:".
  static bool IsUuid(std::string_view text) {
    if (text.size() == 38 && text.front() == '{' && text.back() == '}') {
      text = text.substr(1, 36);
    } else if (text.size() == 45 &&
               absl::AsciiStrToLower(std::string(text.substr(0, 9))) == "urn:uuid:") {
      text = text.substr(9);
    }
    if (text.size() == 32) {
      for (char c : text) {
        if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
      }
      return true;
    }
    if (text.size() != 36) return false;
    for (size_t i = 0; i < text.size(); ++i) {
      const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash ? text[i] != '-' : !absl::ascii_isxdigit(static_cast<unsigned char>(text[i]))) {
        return false;
      }
    }
    return true;
  }
  static bool IsGpuUuid(std::string_view text) {
    return text.starts_with("GPU-") && IsUuid(text.substr(4));
  }
  // MIG-<uuid>, or the older MIG-GPU-<uuid>/<gi>/<ci>.
  static bool IsMigUuid(std::string_view text) {
    if (!text.starts_with("MIG-")) return false;
    text.remove_prefix(4);
    if (IsUuid(text)) return true;
    const size_t first = text.find('/');
    const size_t second = first == std::string_view::npos ? first : text.find('/', first + 1);
    if (second == std::string_view::npos) return false;
    return IsGpuUuid(text.substr(0, first)) &&
           IsDigits(text.substr(first + 1, second - first - 1)) &&
           IsDigits(text.substr(second + 1));
  }
  static bool IsDigits(std::string_view text) {
    if (text.empty()) return false;
    for (char c : text) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    }
    return true;
  }

  absl::Status Replicated(const json& section, const ConfigField& at) {
    if (!section.is_object()) {
      return at.Error(lines_,
                      "is not a mapping of resources, renameByDefault, "
                      "failRequestsGreaterThanOne");
    }
    GPUOP_RETURN_IF_ERROR(Bool(section, "renameByDefault", at));
    GPUOP_RETURN_IF_ERROR(Bool(section, "failRequestsGreaterThanOne", at));
    const json* resources = FindConfigValue(section, "resources");
    const ConfigField resources_at = at.Key("resources");
    if (resources == nullptr) return resources_at.Error(lines_, "is missing: nothing to share");
    if (!resources->is_array() || resources->empty()) {
      return resources_at.Error(lines_, "is not a list of {name, replicas} with one or more");
    }
    for (size_t i = 0; i < resources->size(); ++i) {
      const ConfigField item_at = resources_at.Index(i);
      const json& item = (*resources)[i];
      if (!item.is_object()) return item_at.Error(lines_, "is not a mapping of name, replicas");
      const json* name = FindConfigValue(item, "name");
      if (name == nullptr) return item_at.Key("name").Error(lines_, "is missing");
      GPUOP_RETURN_IF_ERROR(ResourceName(*name, item_at.Key("name")));
      if (const json* rename = FindConfigValue(item, "rename")) {
        GPUOP_RETURN_IF_ERROR(ResourceName(*rename, item_at.Key("rename")));
      }
      const json* replicas = FindConfigValue(item, "replicas");
      const ConfigField replicas_at = item_at.Key("replicas");
      if (replicas == nullptr) return replicas_at.Error(lines_, "is missing");
      if (!replicas->is_number_integer()) {
        return replicas_at.Error(
            lines_, absl::StrCat(ShownConfigValue(*replicas), " is not a whole number"));
      }
      if (replicas->get<int64_t>() < kMinReplicas) {
        return replicas_at.Error(lines_, absl::StrCat("must be ", kMinReplicas, " or more, not ",
                                                      replicas->get<int64_t>()));
      }
      if (const json* devices = FindConfigValue(item, "devices")) {
        const ConfigField devices_at = item_at.Key("devices");
        if (devices->is_string()) {
          if (*devices != "all") {
            return devices_at.Error(lines_, absl::StrCat(ShownConfigValue(*devices),
                                                         " is not \"all\", a count or a list"));
          }
        } else if (devices->is_number_integer()) {
          if (devices->get<int64_t>() <= 0) {
            return devices_at.Error(lines_, "a count of devices must be 1 or more");
          }
        } else if (devices->is_array()) {
          for (size_t d = 0; d < devices->size(); ++d) {
            if (!IsDeviceRef((*devices)[d])) {
              return devices_at.Index(d).Error(
                  lines_, absl::StrCat(ShownConfigValue((*devices)[d]),
                                       " is not a GPU index, a MIG index (\"0:1\") or a UUID"));
            }
          }
        } else {
          return devices_at.Error(lines_, "is not \"all\", a count or a list");
        }
      }
    }
    return absl::OkStatus();
  }

  // IMEX channels: the plugin injects channel 0 or none (AssertChannelIDsValid).
  absl::Status Imex(const json& imex, const ConfigField& at) {
    if (!imex.is_object()) return at.Error(lines_, "is not a mapping of channelIDs, required");
    GPUOP_RETURN_IF_ERROR(Bool(imex, "required", at));
    const json* ids = FindConfigValue(imex, "channelIDs");
    if (ids == nullptr) return absl::OkStatus();
    const bool valid =
        ids->is_array() && (ids->empty() || (ids->size() == 1 && (*ids)[0].is_number_integer() &&
                                             (*ids)[0].get<int64_t>() == 0));
    if (!valid) {
      return at.Key("channelIDs")
          .Error(lines_, absl::StrCat(ShownConfigValue(*ids), " is not [] or [0]"));
    }
    return absl::OkStatus();
  }

  absl::Status Sharing(const json& sharing, const ConfigField& at) {
    if (!sharing.is_object()) return at.Error(lines_, "is not a mapping of timeSlicing or mps");
    for (const auto& [key, value] : sharing.items()) {
      if (key != "timeSlicing" && key != "mps") {
        return at.Key(key).Error(lines_,
                                 "is not timeSlicing or mps: the plugin would ignore it and not "
                                 "share");
      }
    }
    // The plugin reads timeSlicing into a value whose reader refuses null ("no resources
    // specified"); mps is a pointer, left nil by null.
    if (sharing.contains("timeSlicing") && sharing.at("timeSlicing").is_null()) {
      return at.Key("timeSlicing").Error(lines_, "is empty: the plugin refuses it (no resources)");
    }
    const json* time_slicing = FindConfigValue(sharing, "timeSlicing");
    const json* mps = FindConfigValue(sharing, "mps");
    if (time_slicing != nullptr && mps != nullptr) {
      return at.Error(lines_, "has both timeSlicing and mps: a GPU is shared one way");
    }
    if (time_slicing != nullptr) return Replicated(*time_slicing, at.Key("timeSlicing"));
    if (mps != nullptr) return Replicated(*mps, at.Key("mps"));
    return absl::OkStatus();
  }

  const kube::YamlLines& lines_;
};

}  // namespace

absl::StatusOr<DevicePluginConfigSummary> CheckDevicePluginConfig(std::string_view yaml) {
  kube::YamlLines lines;
  GPUOP_ASSIGN_OR_RETURN(const json doc, kube::ParseYamlDocument(yaml, &lines));
  GPUOP_RETURN_IF_ERROR(Checker(lines).Document(doc));
  DevicePluginConfigSummary summary;
  if (!doc.is_object()) return summary;
  const json& flags = doc.value("flags", json::object());
  if (flags.is_object() && flags.contains("migStrategy") && flags["migStrategy"].is_string()) {
    summary.mig_strategy = flags["migStrategy"].get<std::string>();
  }
  const json& sharing = doc.value("sharing", json::object());
  if (sharing.is_object()) {
    if (sharing.contains("mps") && !sharing["mps"].is_null()) {
      summary.sharing = "mps";
    } else if (sharing.contains("timeSlicing") && !sharing["timeSlicing"].is_null()) {
      summary.sharing = "time-slicing";
    }
  }
  return summary;
}

}  // namespace gpuop::op
