// Any bytes as a device plugin config file from an admin's ConfigMap: CheckDevicePluginConfig
// must accept or refuse it with an error, never crash, hang or leak.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "operator/device_plugin_config_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)gpuop::op::CheckDevicePluginConfig(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
