#include "api/cc_mode.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace gpuop::api {

absl::StatusOr<CcMode> ParseCcMode(std::string_view text) {
  std::vector<std::string> names;
  for (CcMode mode : kAllCcModes) {
    if (text == CcModeName(mode)) return mode;
    names.emplace_back(CcModeName(mode));
  }
  return absl::InvalidArgumentError(absl::StrCat("\"", std::string(text),
                                                 "\" is not a CC mode: the valid ones are ",
                                                 absl::StrJoin(names, ", ")));
}

}  // namespace gpuop::api
