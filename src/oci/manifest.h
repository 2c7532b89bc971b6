#pragma once

// OCI image manifests and indexes (and their Docker v2 twins), the parts an artifact pull reads:
// an index's entry for this node's platform, and a manifest's layers with the file names their
// `org.opencontainers.image.title` annotations give (how ORAS names artifact files).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gpuop::oci {

inline constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kDockerManifestList[] =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char kTitleAnnotation[] = "org.opencontainers.image.title";

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
  std::string os, architecture;  // From an index entry's platform.
};

struct Manifest {
  bool is_index = false;
  std::vector<Descriptor> manifests;  // An index's entries.
  std::vector<Descriptor> layers;     // A manifest's layers.
};

// `media_type` is the Content-Type the registry sent; the document's own mediaType wins when it
// has one. Every descriptor must carry a sha256 digest and a size ≥ 0.
absl::StatusOr<Manifest> ParseManifest(const std::string& media_type, const std::string& body);

// The entry of an index for linux/<architecture> ("amd64", "arm64"), or an error naming the
// platforms it has.
absl::StatusOr<Descriptor> SelectPlatform(const Manifest& index, const std::string& architecture);

// The layer's file name from its title annotation: a plain name (no '/', not "." or ".."), so a
// hostile manifest cannot write outside the artifact directory. Empty when there is no title.
absl::StatusOr<std::string> TitleOf(const Descriptor& layer);

// What the node runs on, as OCI names it: "amd64" or "arm64".
std::string NodeArchitecture();

}  // namespace gpuop::oci
