#include "containerd/handler_installer.h"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
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

// Where the host keeps a file gpuop reads or edits in place (the main config, the rendered
// config): every symlink followed inside the host root, so an image-based host whose
// config.toml links elsewhere gets that file edited, link kept. A link to nothing, a loop or a
// path that cannot be walked is left alone: creating the link's target would write wherever it
// points, and treating it as "no config" would put gpuop's config in place of the admin's.
absl::StatusOr<std::string> HostFileInPlace(const host::HostRoot& root,
                                            const std::string& host_path) {
  absl::StatusOr<host::HostRoot::Resolved> resolved = root.Resolve(host_path);
  if (!resolved.ok()) return InFile(host_path, resolved.status());
  if (resolved->through_link && !resolved->exists) {
    return absl::FailedPreconditionError(absl::StrCat(
        host_path, " is a symlink to ", resolved->host_path,
        ", which does not exist on the host; gpuop neither creates a link's target nor replaces "
        "the link (nothing was changed)"));
  }
  return root.Path(resolved->host_path);
}

// Where gpuop's own file (the drop-in) goes: its folder resolved inside the host root, the
// name itself not followed, so the file is written (or removed) there and nowhere else.
absl::StatusOr<std::string> OwnHostFile(const host::HostRoot& root, const std::string& host_path) {
  const std::filesystem::path path(host_path);
  absl::StatusOr<host::HostRoot::Resolved> folder = root.Resolve(path.parent_path().string());
  if (!folder.ok()) return InFile(host_path, folder.status());
  return root.Path(absl::StrCat(folder->host_path == "/" ? "" : folder->host_path, "/",
                                path.filename().string()));
}

// A file at the drop-in's path that gpuop did not write (an admin's own drop-in, or a path
// flag pointed at another file) is never rewritten or removed.
absl::Status CheckDropInIsOurs(const std::string& path, const FileState& current) {
  if (!current.exists || absl::StartsWith(current.text, kDropInHeader)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      path, " exists and was not written by gpuop (its first line is not \"", kDropInHeader,
      "\"); it is left as it is. Move it away or name another drop-in path"));
}

// Writes the drop-in when it differs; true when it did.
absl::StatusOr<bool> WriteDropIn(const std::string& path, const std::string& text) {
  absl::StatusOr<FileState> current = ReadIfExists(path);
  if (!current.ok()) return current.status();
  if (absl::Status ours = CheckDropInIsOurs(path, *current); !ours.ok()) return ours;
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
  if (absl::Status free = CheckHandlerNamesAreFree(*plan, none, handlers); !free.ok()) return free;
  InstallResult result{.plan = *plan};
  absl::StatusOr<std::string> drop_in = OwnHostFile(root, options.drop_in_path);
  if (!drop_in.ok()) return drop_in.status();
  absl::StatusOr<bool> written = WriteDropIn(*drop_in, RenderDropIn(*plan, none, handlers));
  if (!written.ok()) return written.status();
  result.changed = *written;
  return result;
}

// k3s and rke2 render their main config from the admin's template at every start: it is read,
// never written, and it has to import the drop-in dir already.
absl::StatusOr<InstallResult> InstallIntoImportedDir(const host::HostRoot& root,
                                                     const HandlerInstallOptions& options,
                                                     const std::vector<RuntimeHandler>& handlers) {
  absl::StatusOr<std::string> config_path = HostFileInPlace(root, options.config_path);
  if (!config_path.ok()) return config_path.status();
  absl::StatusOr<FileState> main_file = ReadIfExists(*config_path);
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
  if (absl::Status free = CheckHandlerNamesAreFree(*plan, *main, handlers); !free.ok()) return free;
  InstallResult result{.plan = *plan};
  absl::StatusOr<std::string> drop_in = OwnHostFile(root, options.drop_in_path);
  if (!drop_in.ok()) return drop_in.status();
  absl::StatusOr<bool> written = WriteDropIn(*drop_in, RenderDropIn(*plan, *main, handlers));
  if (!written.ok()) return written.status();
  result.changed = *written;
  return result;
}

// RemoveHandlers' part in the main config: the import entry out, or the whole file when gpuop
// created it and nothing of the admin's is in it; the backup once it equals the file again.
absl::StatusOr<bool> RemoveImport(const host::HostRoot& root,
                                  const HandlerInstallOptions& options) {
  absl::StatusOr<std::string> resolved_config = HostFileInPlace(root, options.config_path);
  if (!resolved_config.ok()) return resolved_config.status();
  const std::string& config_path = *resolved_config;
  absl::StatusOr<FileState> main_file = ReadIfExists(config_path);
  if (!main_file.ok()) return main_file.status();
  if (!main_file->exists) return false;
  bool changed = false;
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
  return changed;
}

}  // namespace

absl::StatusOr<InstallResult> InstallHandlers(const host::HostRoot& root,
                                              const HandlerInstallOptions& options,
                                              const std::vector<RuntimeHandler>& handlers) {
  for (const std::string& config :
       {options.config_path, options.rendered_path, options.template_path}) {
    if (!config.empty() && config == options.drop_in_path) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the drop-in path ", options.drop_in_path,
          " is containerd's own config; gpuop writes its drop-in beside it, never over it"));
    }
  }
  if (options.import_mode == ImportMode::kLoadedByDistribution) {
    return InstallLoadedByDistribution(root, options, handlers);
  }
  if (options.import_mode == ImportMode::kRequireImport) {
    return InstallIntoImportedDir(root, options, handlers);
  }
  absl::StatusOr<std::string> resolved_config = HostFileInPlace(root, options.config_path);
  if (!resolved_config.ok()) return resolved_config.status();
  const std::string& config_path = *resolved_config;
  absl::StatusOr<FileState> main_file = ReadIfExists(config_path);
  if (!main_file.ok()) return InFile(options.config_path, main_file.status());
  absl::StatusOr<MainConfig> main = ParseMainConfig(main_file->text);
  if (!main.ok()) return InFile(options.config_path, main.status());
  absl::StatusOr<DropInPlan> plan = PlanDropIn(*main, main_file->exists, options.version);
  if (!plan.ok()) return InFile(options.config_path, plan.status());
  if (absl::Status free = CheckHandlerNamesAreFree(*plan, *main, handlers); !free.ok()) return free;

  // Without a main config containerd runs on its defaults; ours then says only the schema.
  const std::string base =
      main_file->exists ? main_file->text : absl::StrCat("version = ", plan->schema, "\n");
  absl::StatusOr<std::string> edited = WithImport(base, options.drop_in_path);
  if (!edited.ok()) return InFile(options.config_path, edited.status());

  InstallResult result{.plan = *plan};
  absl::StatusOr<std::string> drop_in = OwnHostFile(root, options.drop_in_path);
  if (!drop_in.ok()) return drop_in.status();
  const std::string& drop_in_path = *drop_in;
  MainConfig settings = *main;
  if (!options.rendered_path.empty() && plan->carries_user_cri_table) {
    absl::StatusOr<std::string> rendered_path = HostFileInPlace(root, options.rendered_path);
    if (!rendered_path.ok()) return rendered_path.status();
    absl::StatusOr<FileState> rendered = ReadIfExists(*rendered_path);
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
  // Only in kAddImport mode did gpuop touch the main config.
  if (options.import_mode == ImportMode::kAddImport) {
    absl::StatusOr<bool> main_changed = RemoveImport(root, options);
    if (!main_changed.ok()) return main_changed.status();
    changed = *main_changed;
  }
  absl::StatusOr<std::string> drop_in = OwnHostFile(root, options.drop_in_path);
  if (!drop_in.ok()) return drop_in.status();
  const std::string& drop_in_path = *drop_in;
  std::error_code error;
  if (std::filesystem::exists(std::filesystem::symlink_status(drop_in_path, error))) {
    absl::StatusOr<FileState> current = ReadIfExists(drop_in_path);
    if (!current.ok()) return current.status();
    if (absl::Status ours = CheckDropInIsOurs(options.drop_in_path, *current); !ours.ok()) {
      return ours;
    }
    if (absl::Status removed = RemoveFile(drop_in_path); !removed.ok()) return removed;
    changed = true;
  }
  return changed;
}

}  // namespace gpuop::containerd
