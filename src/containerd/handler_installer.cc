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
  return common::WriteFileAtomicallyCreatingFolders(path, text, mode);
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

// Writes the drop-in when it differs; true when it did.
absl::StatusOr<bool> WriteDropIn(const std::string& path, const std::string& text) {
  absl::StatusOr<FileState> current = ReadIfExists(path);
  if (!current.ok()) return current.status();
  if (current->exists && current->text == text) return false;
  if (absl::Status written = WriteIn(path, text); !written.ok()) return written;
  return true;
}

// k0s merges the files of its drop-in dir into the config it generates, so the drop-in holds
// the runtimes alone, in the schema of the node's release.
absl::StatusOr<InstallResult> InstallLoadedByDistribution(
    const host::HostRoot& root, const HandlerInstallOptions& options,
    const std::vector<RuntimeHandler>& handlers) {
  const MainConfig none;
  absl::StatusOr<DropInPlan> plan = PlanDropIn(none, false, options.version);
  if (!plan.ok()) return plan.status();
  plan->carries_user_cri_table = false;
  InstallResult result{.plan = *plan};
  absl::StatusOr<bool> written =
      WriteDropIn(root.Path(options.drop_in_path), RenderDropIn(*plan, none, handlers));
  if (!written.ok()) return written.status();
  result.changed = *written;
  return result;
}

// k3s and rke2 render their main config from the admin's template at every start: it is read,
// never written, and it has to import the drop-in dir already.
absl::StatusOr<InstallResult> InstallIntoImportedDir(const host::HostRoot& root,
                                                     const HandlerInstallOptions& options,
                                                     const std::vector<RuntimeHandler>& handlers) {
  absl::StatusOr<FileState> main_file = ReadIfExists(root.Path(options.config_path));
  if (!main_file.ok()) return InFile(options.config_path, main_file.status());
  if (!main_file->exists) {
    return absl::FailedPreconditionError(absl::StrCat(
        options.config_path,
        " does not exist yet: it is rendered when the node's Kubernetes distribution starts "
        "containerd (nothing was changed)"));
  }
  absl::StatusOr<MainConfig> main = ParseMainConfig(main_file->text);
  if (!main.ok()) return InFile(options.config_path, main.status());
  const std::string dir = std::filesystem::path(options.drop_in_path).parent_path().string();
  if (!ImportsCover(main->imports, options.drop_in_path)) {
    return absl::FailedPreconditionError(absl::StrCat(
        options.config_path, " does not import ", dir,
        "/*.toml, and gpuop does not edit it: it is rendered from ", options.template_path,
        " at every start. Put imports = [\"", dir, "/*.toml\"] at the top of ",
        options.template_path, " (above every table) and restart; nothing was changed"));
  }
  absl::StatusOr<DropInPlan> plan = PlanDropIn(*main, true, options.version);
  if (!plan.ok()) return InFile(options.config_path, plan.status());
  InstallResult result{.plan = *plan};
  absl::StatusOr<bool> written =
      WriteDropIn(root.Path(options.drop_in_path), RenderDropIn(*plan, *main, handlers));
  if (!written.ok()) return written.status();
  result.changed = *written;
  return result;
}

}  // namespace

absl::StatusOr<InstallResult> InstallHandlers(const host::HostRoot& root,
                                              const HandlerInstallOptions& options,
                                              const std::vector<RuntimeHandler>& handlers) {
  if (options.import_mode == ImportMode::kLoadedByDistribution) {
    return InstallLoadedByDistribution(root, options, handlers);
  }
  if (options.import_mode == ImportMode::kRequireImport) {
    return InstallIntoImportedDir(root, options, handlers);
  }
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
  MainConfig settings = *main;
  if (!options.rendered_path.empty() && plan->carries_user_cri_table) {
    absl::StatusOr<FileState> rendered = ReadIfExists(root.Path(options.rendered_path));
    if (!rendered.ok()) return InFile(options.rendered_path, rendered.status());
    if (rendered->exists) {
      absl::StatusOr<MainConfig> parsed = ParseMainConfig(rendered->text);
      if (!parsed.ok()) return InFile(options.rendered_path, parsed.status());
      settings = *std::move(parsed);
    }
  }
  absl::StatusOr<bool> drop_in_written =
      WriteDropIn(drop_in_path, RenderDropIn(*plan, settings, handlers));
  if (!drop_in_written.ok()) return drop_in_written.status();
  result.changed = *drop_in_written;
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
  // Only in kAddImport mode did gpuop touch the main config.
  if (main_file->exists && options.import_mode == ImportMode::kAddImport) {
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
