#include "oci/artifact_puller.h"

#include <set>

#include "absl/strings/str_cat.h"

#include "common/printable.h"

namespace gpuop::oci {

absl::StatusOr<ResolvedArtifact> ResolveArtifact(RegistryClient& registry, const Reference& ref,
                                                 const std::string& architecture) {
  absl::StatusOr<FetchedManifest> top =
      registry.GetManifest(ref.repository, ref.ManifestReference());
  if (!top.ok()) return top.status();
  absl::StatusOr<Manifest> manifest = ParseManifest(top->media_type, top->body);
  if (!manifest.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ref.ToString(), ": ", manifest.status().message()));
  }
  if (manifest->is_index) {
    absl::StatusOr<Descriptor> entry = SelectPlatform(*manifest, architecture);
    if (!entry.ok())
      return absl::NotFoundError(absl::StrCat(ref.ToString(), ": ", entry.status().message()));
    absl::StatusOr<FetchedManifest> child = registry.GetManifest(ref.repository, entry->digest);
    if (!child.ok()) return child.status();
    manifest = ParseManifest(child->media_type, child->body);
    if (!manifest.ok() || manifest->is_index) {
      return absl::InvalidArgumentError(absl::StrCat(ref.ToString(), ": the linux/", architecture,
                                                     " entry is not an image manifest"));
    }
  }
  ResolvedArtifact resolved{.digest = top->digest};
  std::set<std::string> names;
  for (const Descriptor& layer : manifest->layers) {
    absl::StatusOr<std::string> title = TitleOf(layer);
    if (!title.ok())
      return absl::InvalidArgumentError(
          absl::StrCat(ref.ToString(), ": ", title.status().message()));
    if (title->empty()) continue;
    if (!names.insert(*title).second) {
      return absl::InvalidArgumentError(absl::StrCat(ref.ToString(), ": two layers are titled \"",
                                                     common::Printable(*title, 80), "\""));
    }
    resolved.layers.push_back(layer);
  }
  if (resolved.layers.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ref.ToString(),
                     ": no layer has an org.opencontainers.image.title annotation, so there "
                     "are no files to install (is it a container image rather than an artifact "
                     "pushed with ORAS?)"));
  }
  return resolved;
}

absl::StatusOr<PulledArtifact> PullArtifact(
    RegistryClient& registry, const Reference& ref, const ResolvedArtifact& resolved,
    const std::string& dir, const std::function<void(const PulledFile&, int64_t)>& progress) {
  PulledArtifact pulled{.digest = resolved.digest};
  for (const Descriptor& layer : resolved.layers) {
    PulledFile file{.name = *TitleOf(layer), .digest = layer.digest, .size = layer.size};
    absl::Status downloaded = registry.DownloadBlob(
        ref.repository, layer, absl::StrCat(dir, "/", file.name), [&](int64_t written, int64_t) {
          if (progress) progress(file, written);
        });
    if (!downloaded.ok()) return downloaded;
    pulled.files.push_back(std::move(file));
  }
  return pulled;
}

}  // namespace gpuop::oci
