// Any bytes as a kubeconfig: ParseKubeconfig must answer with a config or an error, never crash,
// hang or leak. Relative file references resolve in an empty folder, so the fuzzer reads no
// real files through them.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kube/rest_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)gpuop::kube::ParseKubeconfig(text, "/var/empty");
  (void)gpuop::kube::ParseKubeconfig(text, "/var/empty", "other-context");
  return 0;
}
