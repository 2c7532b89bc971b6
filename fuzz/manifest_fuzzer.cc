// Any bytes as a multi-document YAML manifest: ParseManifests must answer with objects or an
// error, never crash, hang or leak (yaml-cpp's exceptions included).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kube/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)gpuop::kube::ParseManifests(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
