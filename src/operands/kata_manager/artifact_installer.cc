#include "operands/kata_manager/artifact_installer.h"

#include <fcntl.h>
#include <stdio.h>

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

// The record says this digest is installed and its files are all there, whole.
bool AlreadyInstalled(const std::string& dir, const std::string& url, const std::string& digest,
                      InstalledArtifact& installed) {
  const std::optional<json> found = ReadArtifactRecord(dir);
  if (!found.has_value()) return false;
  const json& record = *found;
  if (record.value("digest", "") != digest || record.value("url", "") != url ||
      !record.contains("files") || !record["files"].is_array()) {
    return false;
  }
  installed.config_path = record.value("configPath", "");
  for (const json& file : record["files"]) {
    if (!file.is_object()) return false;
    oci::PulledFile pulled{.name = file.value("name", ""),
                           .digest = file.value("digest", ""),
                           .size = file.value("size", int64_t{-1})};
    // The Kata configuration was rewritten on install, so its size on disk is its own.
    const int64_t on_disk = file.value("installedSize", pulled.size);
    std::error_code error;
    const uintmax_t size = fs::file_size(absl::StrCat(dir, "/", pulled.name), error);
    if (pulled.name.empty() || error || size != static_cast<uintmax_t>(on_disk)) return false;
    installed.files.push_back(pulled);
  }
  return !installed.config_path.empty();
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

std::optional<json> ReadArtifactRecord(const std::string& dir) {
  absl::StatusOr<std::string> text = common::ReadFile(absl::StrCat(dir, "/", kArtifactRecordFile));
  if (!text.ok()) return std::nullopt;
  json record = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!record.is_object()) return std::nullopt;
  return record;
}

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
  if (AlreadyInstalled(target, runtime_class.url, resolved->digest, installed)) return installed;
  installed.files.clear();

  const std::string staging = absl::StrCat(options.artifacts_dir, "/.", name, ".staging");
  std::error_code error;
  fs::remove_all(staging, error);
  fs::create_directories(staging, error);
  if (error) return absl::InternalError(absl::StrCat("create ", staging, ": ", error.message()));
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
    // The swap: one rename either way, so the class's directory is the old one or the new one.
    if (fs::exists(target)) {
      if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0) {
        written = Errno(absl::StrCat("swap ", staging, " with ", target));
      }
    } else if (::rename(staging.c_str(), target.c_str()) != 0) {
      written = Errno(absl::StrCat("rename ", staging, " to ", target));
    }
  }
  fs::remove_all(staging, error);  // The old install after a swap, or the failed staging.
  if (!written.ok()) return written;
  log.Info("Kata artifacts installed", {{"runtime_class", name},
                                        {"dir", host_target},
                                        {"digest", resolved->digest},
                                        {"config", installed.config_path}});
  return installed;
}

}  // namespace gpuop::operands
