#include "host/host_root.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

#include "common/files.h"

namespace gpuop::host {

HostRoot::HostRoot(std::string root) : root_(std::move(root)) {
  while (!root_.empty() && root_.back() == '/') root_.pop_back();
}

std::string HostRoot::Path(std::string_view host_path) const {
  std::string path = root_;
  if (host_path.empty() || host_path.front() != '/') path.push_back('/');
  path.append(host_path);
  return path;
}

absl::StatusOr<std::string> HostRoot::Read(std::string_view host_path) const {
  return common::ReadFile(Path(host_path));
}

absl::StatusOr<std::string> HostRoot::ReadTrimmed(std::string_view host_path) const {
  absl::StatusOr<std::string> contents = Read(host_path);
  if (!contents.ok()) return contents.status();
  return std::string(absl::StripAsciiWhitespace(*contents));
}

bool HostRoot::Exists(std::string_view host_path) const {
  std::error_code error;
  return std::filesystem::exists(std::filesystem::symlink_status(Path(host_path), error));
}

std::optional<std::string> HostRoot::LinkTargetName(std::string_view host_path) const {
  std::error_code error;
  const std::filesystem::path target = std::filesystem::read_symlink(Path(host_path), error);
  if (error) return std::nullopt;
  return target.filename().string();
}

std::vector<std::string> HostRoot::List(std::string_view host_path) const {
  std::vector<std::string> names;
  std::error_code error;
  for (std::filesystem::directory_iterator it(Path(host_path), error), end; !error && it != end;
       it.increment(error)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<HostRoot::Resolved> HostRoot::Resolve(std::string_view path_view) const {
  const std::string host_path(path_view);
  // The same bound as the kernel's (MAXSYMLINKS): past it, a loop.
  constexpr int kMaxLinks = 40;
  const auto host_form = [](const std::vector<std::string>& parts) {
    return absl::StrCat("/", absl::StrJoin(parts, "/"));
  };
  std::deque<std::string> pending;
  for (std::string& part :
       std::vector<std::string>(absl::StrSplit(host_path, '/', absl::SkipEmpty()))) {
    pending.push_back(std::move(part));
  }
  std::vector<std::string> done;
  Resolved resolved;
  int links = 0;
  while (!pending.empty()) {
    std::string part = std::move(pending.front());
    pending.pop_front();
    if (part == ".") continue;
    if (part == "..") {
      if (!done.empty()) done.pop_back();
      continue;
    }
    done.push_back(part);
    const std::string here = Path(host_form(done));
    struct stat info {};
    if (::lstat(here.c_str(), &info) != 0) {
      if (errno != ENOENT) {
        return absl::FailedPreconditionError(
            absl::StrCat("cannot resolve ", host_path, ": ", host_form(done), ": ",
                         std::error_code(errno, std::generic_category()).message()));
      }
      // Nothing here: the rest cannot hold links either; it is where it would be created.
      for (std::string& rest : pending) {
        if (rest == ".") continue;
        if (rest == "..") {
          if (!done.empty()) done.pop_back();
        } else {
          done.push_back(std::move(rest));
        }
      }
      resolved.host_path = host_form(done);
      return resolved;
    }
    if (S_ISLNK(info.st_mode)) {
      if (++links > kMaxLinks) {
        return absl::FailedPreconditionError(absl::StrCat(
            "cannot resolve ", host_path, ": more than ", kMaxLinks, " symlinks (a loop?)"));
      }
      std::error_code error;
      const std::string target = std::filesystem::read_symlink(here, error).string();
      if (error || target.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat("cannot resolve ", host_path, ": cannot read the link ", host_form(done),
                         error ? absl::StrCat(": ", error.message()) : std::string()));
      }
      resolved.through_link = true;
      done.pop_back();
      if (target.front() == '/') done.clear();  // The host's /, not ours.
      std::vector<std::string> parts = absl::StrSplit(target, '/', absl::SkipEmpty());
      pending.insert(pending.begin(), parts.begin(), parts.end());
      continue;
    }
    if (!pending.empty() && !S_ISDIR(info.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot resolve ", host_path, ": ", host_form(done), " is not a directory"));
    }
  }
  resolved.host_path = host_form(done);
  resolved.exists = true;
  return resolved;
}

}  // namespace gpuop::host
