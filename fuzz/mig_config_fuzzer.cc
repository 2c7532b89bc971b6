// Any bytes as the MIG layouts of an admin's ConfigMap: CheckMigConfig must give the layouts'
// names or an error, never crash, hang or leak.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "operator/mig_config_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)gpuop::op::CheckMigConfig(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
