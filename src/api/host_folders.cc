#include "api/host_folders.h"

#include <array>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace gpuop::api {
namespace {

// Folders the system owns as a whole: neither they nor anything below them is gpuop's.
constexpr std::array<std::string_view, 8> kSystemTrees = {"/boot", "/dev", "/etc", "/proc",
                                                          "/sys",  "/run", "/bin", "/sbin"};

// Folders the system owns at their own level: they hold the folders of other software, so
// gpuop's may lie below them but never be them.
constexpr std::array<std::string_view, 18> kSystemFolders = {
    "/",    "/home",   "/lib", "/lib32", "/lib64", "/libx32",    "/media",     "/mnt",
    "/opt", "/root",   "/srv", "/tmp",   "/usr",   "/usr/local", "/usr/share", "/usr/local/share",
    "/var", "/var/lib"};

// Below these only the package manager installs (/usr/lib/x86_64-linux-gnu, /usr/bin/...).
constexpr std::array<std::string_view, 6> kPackageTrees = {
    "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/include"};

bool Within(const std::string& dir, std::string_view tree) {
  return dir == tree || absl::StartsWith(dir, absl::StrCat(std::string(tree), "/"));
}

}  // namespace

std::string NormalizeHostFolder(std::string_view dir) {
  std::vector<std::string> parts = absl::StrSplit(std::string(dir), '/', absl::SkipEmpty());
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

std::optional<std::string> ArtifactsDirProblem(std::string_view dir) {
  if (dir.empty() || dir.front() != '/') return "is not an absolute path";
  for (const std::string& part :
       std::vector<std::string>(absl::StrSplit(std::string(dir), '/', absl::SkipEmpty()))) {
    if (part == "." || part == "..") return "holds \".\" or \"..\"";
  }
  const std::string normal = NormalizeHostFolder(dir);
  for (std::string_view tree : kSystemTrees) {
    if (Within(normal, tree)) {
      return absl::StrCat("lies in ", std::string(tree), ", which belongs to the system");
    }
  }
  for (std::string_view tree : kPackageTrees) {
    if (Within(normal, tree)) {
      return absl::StrCat("lies in ", std::string(tree), ", which belongs to the package manager");
    }
  }
  for (std::string_view folder : kSystemFolders) {
    if (normal == folder) {
      return absl::StrCat("is ", std::string(folder),
                          " itself, a system folder that holds other software; name a folder "
                          "of gpuop's own below it (the default is "
                          "/opt/nvidia-gpu-operator/artifacts/runtimeclasses)");
    }
  }
  return std::nullopt;
}

}  // namespace gpuop::api
