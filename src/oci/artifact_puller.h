#pragma once

// Pulls an OCI artifact the way ORAS lays one out: resolves the reference (an index picks this
// node's platform), then downloads every layer that has an `org.opencontainers.image.title`
// into a file of that name, each checked against its digest. The manifest digest the reference
// resolved to says what was pulled, so a caller can tell that nothing changed from one GET.
//
//   absl::StatusOr<PulledArtifact> pulled = PullArtifact(*ref, staging_dir, options);

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "oci/manifest.h"
#include "oci/reference.h"
#include "oci/registry_client.h"

namespace gpuop::oci {

struct PulledFile {
  std::string name;
  std::string digest;
  int64_t size = 0;
};

struct PulledArtifact {
  std::string digest;  // What the reference resolved to: the index's or the manifest's.
  std::vector<PulledFile> files;
};

struct ResolvedArtifact {
  std::string digest;
  std::vector<Descriptor> layers;  // The titled ones, in manifest order.
};

// One manifest GET (two for an index): the digest and the files it would pull.
absl::StatusOr<ResolvedArtifact> ResolveArtifact(RegistryClient& registry, const Reference& ref,
                                                 const std::string& architecture);

// Writes the resolved files into `dir` (which must exist). On an error some files may be there
// and others not: pull into a staging directory.
absl::StatusOr<PulledArtifact> PullArtifact(
    RegistryClient& registry, const Reference& ref, const ResolvedArtifact& resolved,
    const std::string& dir,
    const std::function<void(const PulledFile&, int64_t written)>& progress = nullptr);

}  // namespace gpuop::oci
