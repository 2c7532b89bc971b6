#include "operands/vfio_manager/previous_drivers.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/files.h"
#include "host/pci_device.h"

namespace gpuop::operands {

using nlohmann::json;

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
    if (!address.is_string() || !previous.is_string() || !driver.is_string() ||
        !host::IsPciAddress(address.get<std::string>())) {
      return invalid(absl::StrCat("bad device entry ", entry.dump()));
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
