// Any bytes as what a registry or a user hands the OCI client: a manifest (with either media
// type), a WWW-Authenticate header, a pull secret, an artifact reference. Each parser answers
// with a value or an error, never a crash; a title it accepts is a plain file name.

#include <cstddef>
#include <cstdint>
#include <string>

#include "oci/auth_challenge.h"
#include "oci/credentials.h"
#include "oci/manifest.h"
#include "oci/reference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const char* type : {gpuop::oci::kOciManifest, gpuop::oci::kOciIndex, ""}) {
    absl::StatusOr<gpuop::oci::Manifest> manifest = gpuop::oci::ParseManifest(type, text);
    if (!manifest.ok()) continue;
    for (const gpuop::oci::Descriptor& layer : manifest->layers) {
      absl::StatusOr<std::string> title = gpuop::oci::TitleOf(layer);
      if (title.ok() &&
          (title->find('/') != std::string::npos || *title == ".." || *title == ".")) {
        __builtin_trap();
      }
    }
    (void)gpuop::oci::SelectPlatform(*manifest, "amd64");
  }
  (void)gpuop::oci::ParseAuthChallenge(text);
  (void)gpuop::oci::CredentialsFor(text, "nvcr.io");
  absl::StatusOr<gpuop::oci::Reference> ref = gpuop::oci::ParseReference(text);
  if (ref.ok() && (ref->registry.empty() || ref->repository.empty() ||
                   (ref->tag.empty() && ref->digest.empty()))) {
    __builtin_trap();
  }
  return 0;
}
