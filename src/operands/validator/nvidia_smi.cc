#include "operands/validator/nvidia_smi.h"

#include <sys/stat.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#include "common/printable.h"
#include "common/subprocess.h"

namespace gpuop::operands {
namespace {

// The first line with something on it: nvidia-smi's reason for failing is its first line on
// stdout ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. ...").
std::string FirstLine(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) return std::string(line);
  }
  return "";
}

bool IsUsableFile(const std::string& path, bool executable) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return false;
  return S_ISREG(info.st_mode) && info.st_size > 0 && (!executable || (info.st_mode & 0111) != 0);
}

}  // namespace

absl::Status ProcessNvidiaSmiRunner::Run(const NvidiaSmiCall& call) {
  common::ProcessOptions options{.timeout = timeout_, .root_dir = call.root_dir};
  if (!call.ld_preload.empty()) {
    // Whatever this process preloads stays preloaded, after the driver's NVML.
    const char* preloaded = std::getenv("LD_PRELOAD");  // NOLINT(concurrency-mt-unsafe)
    options.env.push_back(preloaded != nullptr && *preloaded != '\0'
                              ? absl::StrCat("LD_PRELOAD=", call.ld_preload, ":", preloaded)
                              : absl::StrCat("LD_PRELOAD=", call.ld_preload));
  }
  absl::StatusOr<common::ProcessResult> result = common::RunProcess({call.program}, options);
  if (!result.ok()) return result.status();
  if (result->exit_code == 0) return absl::OkStatus();
  std::string said = FirstLine(result->out);
  if (said.empty()) said = FirstLine(result->err);
  return absl::FailedPreconditionError(absl::StrCat(
      call.program, call.root_dir.empty() ? "" : " (in " + call.root_dir + ")", " exited ",
      result->exit_code, said.empty() ? "" : ": " + common::Printable(said, 200)));
}

std::optional<std::string> FindFileIn(const host::HostRoot& tree, std::string_view name,
                                      std::span<const std::string_view> dirs, bool executable) {
  for (std::string_view dir : dirs) {
    const std::string path =
        absl::StrCat(absl::StripSuffix(absl::string_view(dir.data(), dir.size()), "/"), "/",
                     absl::string_view(name.data(), name.size()));
    absl::StatusOr<host::HostRoot::Resolved> resolved = tree.Resolve(path);
    if (!resolved.ok() || !resolved->exists) continue;
    if (IsUsableFile(tree.Path(resolved->host_path), executable)) return resolved->host_path;
  }
  return std::nullopt;
}

absl::StatusOr<std::string> FindOnSearchPath(std::string_view name_view,
                                             std::string_view search_path) {
  const absl::string_view name(name_view.data(), name_view.size());
  const absl::string_view folders(search_path.data(), search_path.size());
  for (absl::string_view dir : absl::StrSplit(folders, ':', absl::SkipEmpty())) {
    const std::string path = absl::StrCat(absl::StripSuffix(dir, "/"), "/", name);
    if (IsUsableFile(path, /*executable=*/true)) return path;
  }
  return absl::NotFoundError(absl::StrCat(name, " is not in any folder of PATH (",
                                          common::Printable(search_path, 300), ")"));
}

}  // namespace gpuop::operands
