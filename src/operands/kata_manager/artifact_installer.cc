#include "operands/kata_manager/artifact_installer.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <sstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "common/atomic_file.h"
#include "common/files.h"
#include "toml++/toml.h"

namespace gpuop::operands {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int64_t kLargeBlob = 64 << 20;  // Progress is logged for files this big.

absl::Status Errno(const std::string& what) {
  return absl::InternalError(
      absl::StrCat(what, ": ", std::error_code(errno, std::generic_category()).message()));
}

// Marks a staging folder as gpuop's from the moment it exists, so a leftover of a killed run
// can be removed later without removing anything that only looks like one.
constexpr char kStagingMarker[] = ".gpuop-staging";

// Whether `target` (<artifactsDir>/<class>) may be replaced and its old contents removed: it
// does not exist, or it is a real folder (not a link) holding gpuop's install record. Anything
// else is the admin's (their own Kata install, a host folder that an artifactsDir happens to
// name) and is left alone, with an error that says what to do.
absl::Status CheckReplaceable(const std::string& target, const std::string& host_target) {
  struct stat info {};
  if (::lstat(target.c_str(), &info) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return Errno(absl::StrCat("stat ", host_target));
  }
  if (S_ISDIR(info.st_mode) && ReadArtifactRecord(target).has_value()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      host_target, " already exists and gpuop did not install it (it has no ", kArtifactRecordFile,
      "); it is left as it is. Move it away, or pick another artifactsDir or runtime class name"));
}

// Removes the staging folders a killed run of this class left behind: only those gpuop marked.
void RemoveLeftoverStaging(const std::string& artifacts_dir, const std::string& name) {
  const std::string prefix = absl::StrCat(".", name, ".staging-");
  std::error_code error;
  for (fs::directory_iterator it(artifacts_dir, error), end; !error && it != end;
       it.increment(error)) {
    const std::string file = it->path().filename().string();
    if (!absl::StartsWith(file, prefix) || !it->is_directory(error) || it->is_symlink(error)) {
      continue;
    }
    std::error_code ignored;
    if (fs::exists(it->path() / kStagingMarker, ignored)) fs::remove_all(it->path(), ignored);
  }
}

// The record says this digest is installed and its files are all there, whole.
bool AlreadyInstalled(const std::string& dir, const std::string& url, const std::string& digest,
                      InstalledArtifact& installed) {
  const std::optional<ArtifactRecord> record = ReadArtifactRecord(dir);
  if (!record.has_value() || record->digest != digest || record->url != url) return false;
  for (const ArtifactRecord::File& file : record->files) {
    std::error_code error;
    const uintmax_t size = fs::file_size(absl::StrCat(dir, "/", file.name), error);
    if (error || size != static_cast<uintmax_t>(file.installed_size)) return false;
    installed.files.push_back({.name = file.name, .digest = file.digest, .size = file.size});
  }
  installed.config_path = record->config_path;
  return true;
}

// The artifact's Kata configuration: a .toml file, the one named configuration* first.
absl::StatusOr<std::string> FindKataConfig(const std::vector<oci::PulledFile>& files) {
  std::vector<std::string> tomls;
  for (const oci::PulledFile& file : files) {
    if (absl::EndsWith(file.name, ".toml")) tomls.push_back(file.name);
  }
  std::sort(tomls.begin(), tomls.end(), [](const std::string& a, const std::string& b) {
    const bool a_first = absl::StartsWith(a, "configuration");
    const bool b_first = absl::StartsWith(b, "configuration");
    return a_first != b_first ? a_first : a < b;
  });
  if (tomls.empty()) {
    return absl::InvalidArgumentError(
        "the artifact has no Kata configuration (.toml) among its files");
  }
  return tomls.front();
}

}  // namespace

absl::StatusOr<std::string> PointKataConfigAt(const std::string& toml_text,
                                              const std::string& dir) {
  toml::table config;
  try {
    config = toml::parse(toml_text);
  } catch (const toml::parse_error& error) {
    return absl::InvalidArgumentError(
        absl::StrCat("the Kata configuration is not valid TOML at line ", error.source().begin.line,
                     ": ", std::string(error.description())));
  }
  if (toml::table* hypervisors = config["hypervisor"].as_table()) {
    for (auto& [name, hypervisor] : *hypervisors) {
      toml::table* table = hypervisor.as_table();
      if (table == nullptr) continue;
      for (const char* key : {"kernel", "image", "initrd"}) {
        if (const std::optional<std::string> path = (*table)[key].value<std::string>()) {
          table->insert_or_assign(key, absl::StrCat(dir, "/", fs::path(*path).filename().string()));
        }
      }
    }
  }
  std::ostringstream out;
  out << toml::toml_formatter(config) << "\n";
  return out.str();
}

absl::StatusOr<InstalledArtifact> InstallArtifact(oci::RegistryClient& registry,
                                                  const RuntimeClassArtifacts& runtime_class,
                                                  const ArtifactInstallOptions& options,
                                                  common::Logger& log) {
  const std::string& name = runtime_class.name;
  absl::StatusOr<oci::ResolvedArtifact> resolved =
      oci::ResolveArtifact(registry, runtime_class.artifacts, options.architecture);
  if (!resolved.ok()) return resolved.status();
  const std::string target = absl::StrCat(options.artifacts_dir, "/", name);
  const std::string host_target = absl::StrCat(options.host_artifacts_dir, "/", name);
  InstalledArtifact installed{.name = name, .digest = resolved->digest};
  if (absl::Status ours = CheckReplaceable(target, host_target); !ours.ok()) return ours;
  if (AlreadyInstalled(target, runtime_class.url, resolved->digest, installed)) return installed;
  installed.files.clear();
  for (const oci::Descriptor& layer : resolved->layers) {
    const absl::StatusOr<std::string> title = oci::TitleOf(layer);
    if (title.ok() && (*title == kArtifactRecordFile || *title == kStagingMarker)) {
      return absl::InvalidArgumentError(absl::StrCat(runtime_class.url, ": a layer is titled \"",
                                                     *title, "\", a name gpuop keeps for itself"));
    }
  }

  std::error_code error;
  fs::create_directories(options.artifacts_dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("create ", options.host_artifacts_dir, ": ", error.message()));
  }
  RemoveLeftoverStaging(options.artifacts_dir, name);
  // A folder of its own each time (mkdtemp), marked as gpuop's before anything lands in it.
  std::string staging = absl::StrCat(options.artifacts_dir, "/.", name, ".staging-XXXXXX");
  if (::mkdtemp(staging.data()) == nullptr) return Errno(absl::StrCat("create ", staging));
  ::chmod(staging.c_str(), 0755);  // mkdtemp makes it 0700; the install is read like any other.
  if (absl::Status marked =
          common::WriteFileAtomically(absl::StrCat(staging, "/", kStagingMarker), "");
      !marked.ok()) {
    fs::remove_all(staging, error);
    return marked;
  }
  log.Info("pulling Kata artifacts", {{"runtime_class", name},
                                      {"url", runtime_class.url},
                                      {"digest", resolved->digest},
                                      {"files", std::to_string(resolved->layers.size())}});
  absl::StatusOr<oci::PulledArtifact> pulled =
      oci::PullArtifact(registry, runtime_class.artifacts, *resolved, staging,
                        [&, next = std::map<std::string, int>()](const oci::PulledFile& file,
                                                                 int64_t written) mutable {
                          if (file.size < kLargeBlob) return;
                          const int quarter = static_cast<int>(written * 4 / file.size);
                          if (quarter > next[file.name]) {
                            next[file.name] = quarter;
                            log.Info("pulling", {{"runtime_class", name},
                                                 {"file", file.name},
                                                 {"done", absl::StrCat(quarter * 25, "%")},
                                                 {"bytes", std::to_string(written)}});
                          }
                        });
  if (!pulled.ok()) {
    fs::remove_all(staging, error);
    return pulled.status();
  }
  installed.files = pulled->files;
  installed.downloaded = true;
  absl::StatusOr<std::string> config_name = FindKataConfig(pulled->files);
  absl::StatusOr<std::string> config_text =
      config_name.ok() ? common::ReadFile(absl::StrCat(staging, "/", *config_name))
                       : absl::StatusOr<std::string>(config_name.status());
  absl::StatusOr<std::string> pointed =
      config_text.ok() ? PointKataConfigAt(*config_text, host_target) : config_text;
  json record = {
      {"url", runtime_class.url}, {"digest", resolved->digest}, {"files", json::array()}};
  absl::Status written = pointed.status();
  if (written.ok()) {
    installed.config_path = absl::StrCat(host_target, "/", *config_name);
    record["configPath"] = installed.config_path;
    for (const oci::PulledFile& file : pulled->files) {
      json entry = {{"name", file.name}, {"digest", file.digest}, {"size", file.size}};
      if (file.name == *config_name) entry["installedSize"] = static_cast<int64_t>(pointed->size());
      record["files"].push_back(std::move(entry));
    }
    written = common::WriteFileAtomically(absl::StrCat(staging, "/", *config_name), *pointed);
  }
  if (written.ok()) {
    written = common::WriteFileAtomically(absl::StrCat(staging, "/", kArtifactRecordFile),
                                          record.dump(2) + "\n");
  }
  if (written.ok()) {
    // Checked again: the folder may have appeared while the pull ran.
    written = CheckReplaceable(target, host_target);
  }
  if (written.ok()) {
    ::unlink(absl::StrCat(staging, "/", kStagingMarker).c_str());
    // The swap: one rename either way, so the class's directory is the old one or the new one.
    if (fs::exists(fs::symlink_status(target, error))) {
      if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0) {
        written = Errno(absl::StrCat("swap ", staging, " with ", target));
      }
    } else if (::rename(staging.c_str(), target.c_str()) != 0) {
      written = Errno(absl::StrCat("rename ", staging, " to ", target));
    }
  }
  // The old install after a swap (gpuop's, as CheckReplaceable found), or the failed staging.
  fs::remove_all(staging, error);
  if (!written.ok()) return written;
  log.Info("Kata artifacts installed", {{"runtime_class", name},
                                        {"dir", host_target},
                                        {"digest", resolved->digest},
                                        {"config", installed.config_path}});
  return installed;
}

}  // namespace gpuop::operands
