#include "common/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

#include "common/unique_fd.h"

namespace gpuop::common {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.Valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  std::string contents;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(fd.Get(), buffer, sizeof(buffer));
    if (n == 0) return contents;
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("read ", path));
    }
    contents.append(buffer, static_cast<size_t>(n));
  }
}

bool IsPlainFileName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

}  // namespace gpuop::common
