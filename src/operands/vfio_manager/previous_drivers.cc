#include "operands/vfio_manager/previous_drivers.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/files.h"
#include "host/pci_device.h"

namespace gpuop::operands {
namespace {

using nlohmann::json;

// A kernel driver's name as sysfs lists it under /sys/bus/pci/drivers: one path component.
// Empty is "no driver" (a device that had none before vfio-pci took it).
bool IsDriverName(const std::string& name) {
  if (name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

}  // namespace

absl::StatusOr<std::vector<host::DeviceBinding>> LoadPreviousDrivers(const std::string& path) {
  std::vector<host::DeviceBinding> bindings;
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return bindings;
  absl::StatusOr<std::string> text = common::ReadFile(path);
  if (!text.ok()) return text.status();
  const json document = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  const auto invalid = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
  };
  if (!document.is_object() || !document.contains("devices") || !document["devices"].is_array()) {
    return invalid("not a JSON object with a \"devices\" list");
  }
  for (const json& entry : document["devices"]) {
    if (!entry.is_object()) return invalid("a device entry is not an object");
    const json address = entry.value("address", json());
    const json previous = entry.value("previousDriver", json());
    const json driver = entry.value("driver", json());
    // The driver names become sysfs paths (/sys/bus/pci/drivers/<name>/bind): one plain
    // name each, or a restore could write an address into any file called "bind".
    if (!address.is_string() || !previous.is_string() || !driver.is_string() ||
        !host::IsPciAddress(address.get<std::string>()) ||
        !IsDriverName(previous.get<std::string>()) || driver.get<std::string>().empty() ||
        !IsDriverName(driver.get<std::string>())) {
      return invalid(absl::StrCat("bad device entry ",
                                  entry.dump(-1, ' ', false, json::error_handler_t::replace)));
    }
    host::DeviceBinding binding;
    binding.address = address.get<std::string>();
    binding.previous_driver = previous.get<std::string>();
    binding.driver = driver.get<std::string>();
    binding.outcome = host::DeviceBinding::Outcome::kBound;
    bindings.push_back(std::move(binding));
  }
  return bindings;
}

absl::Status SavePreviousDrivers(const std::string& path,
                                 const std::vector<host::DeviceBinding>& bindings) {
  std::error_code error;
  if (bindings.empty()) {
    std::filesystem::remove(path, error);
    if (error) return absl::InternalError(absl::StrCat("remove ", path, ": ", error.message()));
    return absl::OkStatus();
  }
  json devices = json::array();
  for (const host::DeviceBinding& binding : bindings) {
    devices.push_back({{"address", binding.address},
                       {"previousDriver", binding.previous_driver},
                       {"driver", binding.driver}});
  }
  return common::WriteFileAtomicallyCreatingFolders(path,
                                                    json{{"devices", devices}}.dump(2) + "\n");
}

}  // namespace gpuop::operands
