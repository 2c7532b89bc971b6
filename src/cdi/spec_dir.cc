#include "cdi/spec_dir.h"

#include <filesystem>
#include <string_view>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "common/atomic_file.h"
#include "common/files.h"

namespace gpuop::cdi {

absl::StatusOr<bool> WriteSpecIfChanged(const std::string& dir, const Spec& spec) {
  if (absl::Status valid = ValidateSpec(spec); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("CDI spec for ", spec.kind, " not written: ", valid.message()));
  }
  const std::string path = absl::StrCat(dir, "/", SpecFileName(spec.kind));
  const std::string contents = RenderSpec(spec);
  if (absl::StatusOr<std::string> current = common::ReadFile(path);
      current.ok() && *current == contents) {
    return false;
  }
  if (absl::Status written = common::WriteFileAtomicallyCreatingFolders(path, contents);
      !written.ok()) {
    return written;
  }
  return true;
}

absl::Status RemoveSpec(const std::string& dir, const std::string& kind) {
  const std::string path = absl::StrCat(dir, "/", SpecFileName(kind));
  std::error_code error;
  std::filesystem::remove(path, error);  // false without an error when there is none
  if (error) return absl::InternalError(absl::StrCat("remove ", path, ": ", error.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> KindsWrittenIn(const std::string& dir) {
  std::vector<std::string> kinds;
  std::error_code error;
  std::filesystem::directory_iterator it(dir, error);
  if (error == std::errc::no_such_file_or_directory) return kinds;
  for (; !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    const std::filesystem::directory_entry& entry = *it;
    const std::string name = entry.path().filename().string();
    std::error_code type_error;
    if (!name.ends_with(".yaml") || !entry.is_regular_file(type_error)) continue;
    absl::StatusOr<std::string> text = common::ReadFile(entry.path().string());
    if (!text.ok() || !text->starts_with(kSpecHeader)) continue;
    // RenderSpec writes the kind as a JSON string on a line of its own.
    const size_t line = text->find("\nkind: ");
    if (line == std::string::npos) continue;
    const size_t start = line + std::string_view("\nkind: ").size();
    const nlohmann::json kind = nlohmann::json::parse(
        text->substr(start, text->find('\n', start) - start), nullptr, /*allow_exceptions=*/false);
    // A file renamed by hand is not ours to remove by its kind's name.
    if (kind.is_string() && SpecFileName(kind.get<std::string>()) == name) {
      kinds.push_back(kind.get<std::string>());
    }
  }
  if (error) return absl::InternalError(absl::StrCat("list ", dir, ": ", error.message()));
  return kinds;
}

}  // namespace gpuop::cdi
