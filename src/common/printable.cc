#include "common/printable.h"

#include "absl/strings/ascii.h"

namespace gpuop::common {

std::string Printable(std::string_view text, size_t limit) {
  std::string out;
  out.reserve(std::min(text.size(), limit) + 3);
  for (char c : text.substr(0, limit)) {
    out.push_back(absl::ascii_isprint(static_cast<unsigned char>(c)) ? c : '?');
  }
  if (text.size() > limit) out.append("...");
  return out;
}

}  // namespace gpuop::common
