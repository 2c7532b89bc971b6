#include "host/host_root.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"

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

}  // namespace gpuop::host
