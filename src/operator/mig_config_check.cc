#include "operator/mig_config_check.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

#include "common/status_macros.h"
#include "kube/manifest.h"
#include "operator/config_field.h"

namespace gpuop::op {
namespace {

using nlohmann::json;

// Digits from `at`; false when there are none.
bool Digits(std::string_view text, size_t& at) {
  const size_t start = at;
  while (at < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[at]))) ++at;
  return at > start;
}

// A MIG profile as mig-parted names it: [<C>c.]<G>g.<M>gb, then attributes such as "+me" or
// "+gfx" ("1g.10gb", "1c.2g.20gb", "1g.10gb+me").
bool IsMigProfile(std::string_view text) {
  size_t at = 0;
  if (!Digits(text, at)) return false;
  if (at < text.size() && text[at] == 'c') {
    if (++at >= text.size() || text[at] != '.') return false;
    ++at;
    if (!Digits(text, at)) return false;
  }
  if (text.substr(at, 2) != "g.") return false;
  at += 2;
  if (!Digits(text, at)) return false;
  if (text.substr(at, 2) != "gb") return false;
  at += 2;
  while (at < text.size()) {
    if (text[at] != '+' && text[at] != '-') return false;
    const size_t start = ++at;
    while (at < text.size() &&
           (absl::ascii_islower(static_cast<unsigned char>(text[at])) || text[at] == '.')) {
      ++at;
    }
    if (at == start) return false;
  }
  return true;
}

// A PCI device filter: "0x" and eight hex digits, device then vendor ("0x20B010DE").
bool IsDeviceFilter(const json& value) {
  if (!value.is_string()) return false;
  const std::string text = value.get<std::string>();
  if (text.size() != 10 || (text.substr(0, 2) != "0x" && text.substr(0, 2) != "0X")) return false;
  for (size_t i = 2; i < text.size(); ++i) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

absl::Status CheckEntry(const json& entry, const ConfigField& at, const kube::YamlLines& lines) {
  if (!entry.is_object()) {
    return at.Error(lines, "is not a mapping of device-filter, devices, mig-enabled, mig-devices");
  }
  for (const auto& [key, value] : entry.items()) {
    if (key != "device-filter" && key != "devices" && key != "mig-enabled" &&
        key != "mig-devices") {
      return at.Key(key).Error(lines, "is not device-filter, devices, mig-enabled or mig-devices");
    }
  }
  if (const json* filter = FindConfigValue(entry, "device-filter")) {
    const ConfigField filter_at = at.Key("device-filter");
    const json list = filter->is_array() ? *filter : json::array({*filter});
    for (size_t i = 0; i < list.size(); ++i) {
      if (!IsDeviceFilter(list[i])) {
        return (filter->is_array() ? filter_at.Index(i) : filter_at)
            .Error(lines, absl::StrCat(ShownConfigValue(list[i]),
                                       " is not a PCI device ID (0x and eight hex digits, device "
                                       "then vendor: 0x20B010DE)"));
      }
    }
  }
  const json* devices = FindConfigValue(entry, "devices");
  const ConfigField devices_at = at.Key("devices");
  if (devices == nullptr) return devices_at.Error(lines, "is missing (all, or a list of indices)");
  if (devices->is_string()) {
    if (*devices != "all") {
      return devices_at.Error(lines,
                              absl::StrCat(ShownConfigValue(*devices), " is not all or a list"));
    }
  } else if (devices->is_array()) {
    for (size_t i = 0; i < devices->size(); ++i) {
      const json& index = (*devices)[i];
      if (!index.is_number_integer() || index.get<int64_t>() < 0) {
        return devices_at.Index(i).Error(
            lines, absl::StrCat(ShownConfigValue(index), " is not a GPU index"));
      }
    }
  } else {
    return devices_at.Error(lines, "is not all or a list of GPU indices");
  }
  const json* enabled = FindConfigValue(entry, "mig-enabled");
  const ConfigField enabled_at = at.Key("mig-enabled");
  if (enabled == nullptr) return enabled_at.Error(lines, "is missing (true or false)");
  if (!enabled->is_boolean()) {
    return enabled_at.Error(lines,
                            absl::StrCat(ShownConfigValue(*enabled), " is not true or false"));
  }
  const json* mig_devices = FindConfigValue(entry, "mig-devices");
  const ConfigField mig_devices_at = at.Key("mig-devices");
  if (mig_devices == nullptr) {
    // mig-parted refuses an entry that enables MIG without saying which devices to make
    // ("mig-devices: {}" makes none).
    if (enabled->get<bool>())
      return mig_devices_at.Error(lines, "is missing (mig-enabled is true)");
    return absl::OkStatus();
  }
  if (!mig_devices->is_object()) {
    return mig_devices_at.Error(lines, "is not a mapping of MIG profile to count");
  }
  if (!enabled->get<bool>() && !mig_devices->empty()) {
    return mig_devices_at.Error(lines, "lists MIG devices but mig-enabled is false");
  }
  for (const auto& [profile, count] : mig_devices->items()) {
    const ConfigField profile_at = mig_devices_at.Key(profile);
    if (!IsMigProfile(profile)) {
      return profile_at.Error(lines,
                              "is not a MIG profile ([<C>c.]<G>g.<M>gb[+attribute], 1g.10gb)");
    }
    if (!count.is_number_integer() || count.get<int64_t>() < 0) {
      return profile_at.Error(
          lines, absl::StrCat(ShownConfigValue(count), " is not a count of 0 or more"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::set<std::string>> CheckMigConfig(std::string_view yaml) {
  kube::YamlLines lines;
  GPUOP_ASSIGN_OR_RETURN(const json doc, kube::ParseYamlDocument(yaml, &lines));
  const ConfigField root;
  if (!doc.is_object()) return root.Error(lines, "is not a mapping of version and mig-configs");
  for (const auto& [key, value] : doc.items()) {
    if (key != "version" && key != "mig-configs") {
      // mig-parted reads the file strictly: an unknown field fails the whole file.
      return root.Key(key).Error(lines, "is not version or mig-configs: mig-parted refuses it");
    }
  }
  const json* version = FindConfigValue(doc, "version");
  if (version == nullptr || *version != "v1") {
    return root.Key("version").Error(
        lines,
        absl::StrCat(version == nullptr ? "is missing" : ShownConfigValue(*version) + " is not v1",
                     ": mig-parted reads version v1"));
  }
  const json* configs = FindConfigValue(doc, "mig-configs");
  const ConfigField configs_at = root.Key("mig-configs");
  if (configs == nullptr || !configs->is_object() || configs->empty()) {
    return configs_at.Error(lines, "is missing or not a mapping of layout names to lists");
  }
  std::set<std::string> names;
  for (const auto& [name, entries] : configs->items()) {
    const ConfigField layout_at = configs_at.Key(name);
    if (!entries.is_array() || entries.empty()) {
      return layout_at.Error(lines, "is not a list of one or more entries");
    }
    for (size_t i = 0; i < entries.size(); ++i) {
      GPUOP_RETURN_IF_ERROR(CheckEntry(entries[i], layout_at.Index(i), lines));
    }
    names.insert(name);
  }
  return names;
}

}  // namespace gpuop::op
