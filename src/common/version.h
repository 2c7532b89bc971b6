#pragma once

#include <string_view>

namespace gpuop::common {

// The version this binary was built from: `git describe --tags --always --dirty` at build time,
// or "unknown" when built outside a git checkout.
std::string_view Version();

}  // namespace gpuop::common
