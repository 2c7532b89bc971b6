#include "containerd/handler_installer.h"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

#include "common/atomic_file.h"
#include "common/files.h"

namespace gpuop::containerd {
namespace {

struct FileState {
  bool exists = false;
  std::string text;
  int mode = 0644;
};

absl::StatusOr<FileState> ReadIfExists(const std::string& path) {
  FileState state;
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return state;
  absl::StatusOr<std::string> text = common::ReadFile(path);
  if (!text.ok()) return text.status();
  state.exists = true;
  state.text = *std::move(text);
  state.mode = static_cast<int>(info.st_mode & 07777);
  return state;
}

absl::Status WriteIn(const std::string& path, const std::string& text, int mode = 0644) {
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), error);
  if (error)
    return absl::InternalError(absl::StrCat("create the folder of ", path, ": ", error.message()));
  return common::WriteFileAtomically(path, text, mode);
}

absl::Status RemoveFile(const std::string& path) {
  std::error_code error;
  std::filesystem::remove(path, error);
  if (error) return absl::InternalError(absl::StrCat("remove ", path, ": ", error.message()));
  return absl::OkStatus();
}

absl::Status InFile(const std::string& host_path, const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat(host_path, ": ", status.message(), " (nothing was changed)"));
}

}  // namespace

absl::StatusOr<InstallResult> InstallHandlers(const host::HostRoot& root,
                                              const HandlerInstallOptions& options,
                                              const std::vector<RuntimeHandler>& handlers) {
  const std::string config_path = root.Path(options.config_path);
  absl::StatusOr<FileState> main_file = ReadIfExists(config_path);
  if (!main_file.ok()) return InFile(options.config_path, main_file.status());
  absl::StatusOr<MainConfig> main = ParseMainConfig(main_file->text);
  if (!main.ok()) return InFile(options.config_path, main.status());
  absl::StatusOr<DropInPlan> plan = PlanDropIn(*main, main_file->exists, options.version);
  if (!plan.ok()) return InFile(options.config_path, plan.status());

  // Without a main config containerd runs on its defaults; ours then says only the schema.
  const std::string base =
      main_file->exists ? main_file->text : absl::StrCat("version = ", plan->schema, "\n");
  absl::StatusOr<std::string> edited = WithImport(base, options.drop_in_path);
  if (!edited.ok()) return InFile(options.config_path, edited.status());

  InstallResult result{.plan = *plan};
  const std::string drop_in_path = root.Path(options.drop_in_path);
  const std::string drop_in = RenderDropIn(*plan, *main, handlers);
  absl::StatusOr<FileState> current = ReadIfExists(drop_in_path);
  if (!current.ok()) return current.status();
  if (!current->exists || current->text != drop_in) {
    if (absl::Status written = WriteIn(drop_in_path, drop_in); !written.ok()) return written;
    result.changed = true;
  }
  if (!main_file->exists) {
    if (absl::Status marked = WriteIn(config_path + kCreatedMarkerSuffix, ""); !marked.ok()) {
      return marked;
    }
  } else if (*edited != main_file->text) {
    const std::string backup = config_path + kBackupSuffix;
    if (!std::filesystem::exists(backup)) {
      if (absl::Status saved = WriteIn(backup, main_file->text, main_file->mode); !saved.ok()) {
        return saved;
      }
    }
  }
  if (!main_file->exists || *edited != main_file->text) {
    if (absl::Status written = WriteIn(config_path, *edited, main_file->mode); !written.ok()) {
      return written;
    }
    result.changed = true;
  }
  return result;
}

absl::StatusOr<bool> RemoveHandlers(const host::HostRoot& root,
                                    const HandlerInstallOptions& options) {
  bool changed = false;
  const std::string config_path = root.Path(options.config_path);
  absl::StatusOr<FileState> main_file = ReadIfExists(config_path);
  if (!main_file.ok()) return main_file.status();
  if (main_file->exists) {
    absl::StatusOr<std::string> edited = WithoutImport(main_file->text, options.drop_in_path);
    if (!edited.ok()) return InFile(options.config_path, edited.status());
    const std::string marker = config_path + kCreatedMarkerSuffix;
    absl::StatusOr<MainConfig> left = ParseMainConfig(*edited);
    if (std::filesystem::exists(marker) && left.ok() && left->imports.empty() &&
        left->document.size() <= 1 + (left->document.contains("imports") ? 1 : 0)) {
      // Ours from the start and nothing of the user's in it: gone, as it was before.
      if (absl::Status removed = RemoveFile(config_path); !removed.ok()) return removed;
      if (absl::Status removed = RemoveFile(marker); !removed.ok()) return removed;
      changed = true;
    } else if (*edited != main_file->text) {
      if (absl::Status written = WriteIn(config_path, *edited, main_file->mode); !written.ok()) {
        return written;
      }
      changed = true;
    }
    const std::string backup = config_path + kBackupSuffix;
    if (absl::StatusOr<std::string> saved = common::ReadFile(backup);
        saved.ok() && *saved == *edited) {
      if (absl::Status removed = RemoveFile(backup); !removed.ok()) return removed;
    }
  }
  const std::string drop_in_path = root.Path(options.drop_in_path);
  if (std::filesystem::exists(drop_in_path)) {
    if (absl::Status removed = RemoveFile(drop_in_path); !removed.ok()) return removed;
    changed = true;
  }
  return changed;
}

}  // namespace gpuop::containerd
