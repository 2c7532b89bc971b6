#include "cdi/spec_dir.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

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

}  // namespace gpuop::cdi
