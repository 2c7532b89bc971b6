#include "operands/kata_manager/artifact_record.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "common/files.h"

namespace gpuop::operands {

using nlohmann::json;

std::optional<ArtifactRecord> ParseArtifactRecord(std::string_view text) {
  const json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  const auto string_at = [](const json& object, const char* key) -> std::optional<std::string> {
    if (!object.is_object() || !object.contains(key) || !object[key].is_string()) {
      return std::nullopt;
    }
    return object[key].get<std::string>();
  };
  const auto size_at = [](const json& object, const char* key) -> std::optional<int64_t> {
    if (!object.contains(key) || !object[key].is_number_integer()) return std::nullopt;
    const int64_t size = object[key].get<int64_t>();
    return size >= 0 ? std::optional<int64_t>(size) : std::nullopt;
  };
  ArtifactRecord record;
  const std::optional<std::string> url = string_at(document, "url");
  const std::optional<std::string> digest = string_at(document, "digest");
  const std::optional<std::string> config_path = string_at(document, "configPath");
  if (!url || !digest || !config_path || config_path->empty() || config_path->front() != '/' ||
      !document.contains("files") || !document["files"].is_array()) {
    return std::nullopt;
  }
  record.url = *url;
  record.digest = *digest;
  record.config_path = *config_path;
  for (const json& entry : document["files"]) {
    const std::optional<std::string> name = string_at(entry, "name");
    const std::optional<std::string> file_digest = string_at(entry, "digest");
    if (!name || !common::IsPlainFileName(*name) || !file_digest) return std::nullopt;
    const std::optional<int64_t> size = size_at(entry, "size");
    if (!size) return std::nullopt;
    const std::optional<int64_t> installed_size =
        entry.contains("installedSize") ? size_at(entry, "installedSize") : size;
    if (!installed_size) return std::nullopt;
    record.files.push_back(
        {.name = *name, .digest = *file_digest, .size = *size, .installed_size = *installed_size});
  }
  return record;
}

std::optional<ArtifactRecord> ReadArtifactRecord(const std::string& dir) {
  absl::StatusOr<std::string> text = common::ReadFile(absl::StrCat(dir, "/", kArtifactRecordFile));
  if (!text.ok()) return std::nullopt;
  return ParseArtifactRecord(*text);
}

}  // namespace gpuop::operands
