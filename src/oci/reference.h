#pragma once

// An OCI image reference as the kata manager's config names its artifacts:
// "nvcr.io/nvidia/cloud-native/kata-gpu-artifacts:ubuntu22.04-535", "localhost:5000/kata@sha256:…".
// Parsed by the distribution rules: the first component is the registry when it has a '.' or a
// ':' or is "localhost", else the registry is Docker Hub.

#include <string>

#include "absl/status/statusor.h"

namespace gpuop::oci {

struct Reference {
  std::string registry;    // "nvcr.io", "localhost:5000"; "registry-1.docker.io" for Docker Hub.
  std::string repository;  // "nvidia/cloud-native/kata-gpu-artifacts"
  std::string tag;         // Empty when `digest` is set and no tag was given.
  std::string digest;      // "sha256:<64 hex>", or empty.

  // What the registry's manifest endpoint takes: the digest when there is one, else the tag.
  std::string ManifestReference() const { return digest.empty() ? tag : digest; }
  std::string ToString() const;
};

// A missing tag means "latest", as every registry client reads it. The error says what part is
// wrong.
absl::StatusOr<Reference> ParseReference(const std::string& text);

// True for "sha256:" and 64 lower-case hex digits, the one digest algorithm gpuop checks.
bool IsSha256Digest(const std::string& digest);

}  // namespace gpuop::oci
