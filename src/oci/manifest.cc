#include "oci/manifest.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

#include "common/files.h"
#include "common/printable.h"
#include "oci/reference.h"

namespace gpuop::oci {
namespace {

using common::Printable;

using nlohmann::json;

absl::StatusOr<Descriptor> ParseDescriptor(const json& entry, const std::string& where) {
  if (!entry.is_object())
    return absl::InvalidArgumentError(absl::StrCat(where, " is not an object"));
  Descriptor descriptor;
  const auto text = [&](const char* name) {
    return entry.contains(name) && entry[name].is_string() ? entry[name].get<std::string>()
                                                           : std::string();
  };
  descriptor.media_type = text("mediaType");
  descriptor.digest = text("digest");
  if (!IsSha256Digest(descriptor.digest)) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ".digest \"", Printable(descriptor.digest, 80), "\" is not a sha256 digest"));
  }
  if (!entry.contains("size") || !entry["size"].is_number_integer() ||
      entry["size"].get<int64_t>() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".size is not a size in bytes"));
  }
  descriptor.size = entry["size"].get<int64_t>();
  if (entry.contains("annotations") && entry["annotations"].is_object()) {
    for (const auto& [key, value] : entry["annotations"].items()) {
      if (value.is_string()) descriptor.annotations[key] = value.get<std::string>();
    }
  }
  if (entry.contains("platform") && entry["platform"].is_object()) {
    const json& platform = entry["platform"];
    if (platform.contains("os") && platform["os"].is_string()) descriptor.os = platform["os"];
    if (platform.contains("architecture") && platform["architecture"].is_string()) {
      descriptor.architecture = platform["architecture"];
    }
  }
  return descriptor;
}

absl::StatusOr<std::vector<Descriptor>> ParseList(const json& document, const char* key) {
  std::vector<Descriptor> list;
  if (!document.contains(key) || !document[key].is_array()) {
    return absl::InvalidArgumentError(absl::StrCat("the manifest has no \"", key, "\" array"));
  }
  for (size_t i = 0; i < document[key].size(); ++i) {
    absl::StatusOr<Descriptor> descriptor =
        ParseDescriptor(document[key][i], absl::StrCat(key, "[", i, "]"));
    if (!descriptor.ok()) return descriptor.status();
    list.push_back(*std::move(descriptor));
  }
  return list;
}

}  // namespace

absl::StatusOr<Manifest> ParseManifest(const std::string& media_type, const std::string& body) {
  const json document = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) return absl::InvalidArgumentError("the manifest is not a JSON object");
  std::string type = media_type.substr(0, media_type.find(';'));
  if (document.contains("mediaType") && document["mediaType"].is_string()) {
    type = document["mediaType"].get<std::string>();
  }
  Manifest manifest;
  if (type == kOciIndex || type == kDockerManifestList ||
      (type.empty() && document.contains("manifests"))) {
    manifest.is_index = true;
    absl::StatusOr<std::vector<Descriptor>> entries = ParseList(document, "manifests");
    if (!entries.ok()) return entries.status();
    manifest.manifests = *std::move(entries);
    return manifest;
  }
  if (type == kOciManifest || type == kDockerManifest || type.empty()) {
    absl::StatusOr<std::vector<Descriptor>> layers = ParseList(document, "layers");
    if (!layers.ok()) return layers.status();
    manifest.layers = *std::move(layers);
    return manifest;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported manifest media type \"", Printable(type, 80),
                   "\" (want an OCI or Docker v2 manifest or index)"));
}

absl::StatusOr<Descriptor> SelectPlatform(const Manifest& index, const std::string& architecture) {
  std::vector<std::string> offered;
  for (const Descriptor& entry : index.manifests) {
    if (entry.os == "linux" && entry.architecture == architecture) return entry;
    if (offered.size() == 8) {
      offered.push_back("...");
      break;
    }
    offered.push_back(
        absl::StrCat(entry.os.empty() ? "?" : Printable(entry.os, 20), "/",
                     entry.architecture.empty() ? "?" : Printable(entry.architecture, 20)));
  }
  return absl::NotFoundError(absl::StrCat("the index has no linux/", architecture,
                                          " manifest (it has: ", absl::StrJoin(offered, ", "),
                                          ")"));
}

absl::StatusOr<std::string> TitleOf(const Descriptor& layer) {
  const auto title = layer.annotations.find(kTitleAnnotation);
  if (title == layer.annotations.end()) return std::string();
  const std::string& name = title->second;
  if (!common::IsPlainFileName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("layer ", layer.digest, " is titled \"",
                                                   Printable(name, 80),
                                                   "\", which is not a plain file name"));
  }
  return name;
}

std::string NodeArchitecture() {
#if defined(__aarch64__)
  return "arm64";
#else
  return "amd64";
#endif
}

}  // namespace gpuop::oci
