#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"

#include "common/unique_fd.h"

namespace gpuop::common {

absl::Status WriteFileAtomicallyCreatingFolders(const std::string& path, std::string_view contents,
                                                int mode) {
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (!folder.empty()) {
    std::error_code error;
    std::filesystem::create_directories(folder, error);
    if (error) {
      return absl::InternalError(absl::StrCat("create the folder ", folder.string(), " for ", path,
                                              ": ", error.message()));
    }
  }
  return WriteFileAtomically(path, contents, mode);
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents, int mode) {
  const std::filesystem::path target(path);
  const std::string dir = target.parent_path().empty() ? "." : target.parent_path().string();
  std::string temp = absl::StrCat(dir, "/.", target.filename().string(), ".tmp-XXXXXX");
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd.Valid()) return absl::ErrnoToStatus(errno, absl::StrCat("create a temp file for ", path));
  const auto fail = [&](const char* step) {
    const int error = errno;
    ::unlink(temp.c_str());
    return absl::ErrnoToStatus(error, absl::StrCat(step, " ", path));
  };
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd.Get(), contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write");
    written += static_cast<size_t>(n);
  }
  if (::fchmod(fd.Get(), static_cast<mode_t>(mode)) != 0) return fail("chmod");
  if (::fsync(fd.Get()) != 0) return fail("fsync");
  fd.Reset();
  if (::rename(temp.c_str(), path.c_str()) != 0) return fail("rename into");
  // The rename is durable only once the folder is.
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.Valid()) ::fsync(dir_fd.Get());
  return absl::OkStatus();
}

}  // namespace gpuop::common
