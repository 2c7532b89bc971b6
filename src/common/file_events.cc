#include "common/file_events.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "absl/strings/str_cat.h"

namespace gpuop::common {

absl::StatusOr<std::unique_ptr<FileEvents>> FileEvents::Create() {
  UniqueFd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify.Valid()) {
    return absl::ErrnoToStatus(errno, "inotify_init1 (fs.inotify.max_user_instances reached?)");
  }
  UniqueFd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake.Valid()) return absl::ErrnoToStatus(errno, "eventfd");
  return std::unique_ptr<FileEvents>(new FileEvents(std::move(inotify), std::move(wake)));
}

bool FileEvents::Watch(const std::string& dir) {
  const int wd = ::inotify_add_watch(
      inotify_.Get(), dir.c_str(),
      IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR);
  if (wd < 0) return false;
  absl::MutexLock lock(&mu_);
  dirs_[wd] = dir;
  return true;
}

bool FileEvents::Watching(const std::string& dir) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [wd, watched] : dirs_) {
    if (watched == dir) return true;
  }
  return false;
}

void FileEvents::Wake() {
  const uint64_t one = 1;
  (void)!::write(wake_.Get(), &one, sizeof(one));
}

std::vector<std::string> FileEvents::Wait(std::chrono::milliseconds timeout) {
  std::array<pollfd, 2> fds = {pollfd{inotify_.Get(), POLLIN, 0}, pollfd{wake_.Get(), POLLIN, 0}};
  std::vector<std::string> changed;
  if (::poll(fds.data(), fds.size(), static_cast<int>(timeout.count())) <= 0) return changed;
  if ((fds[1].revents & POLLIN) != 0) {
    uint64_t count = 0;
    (void)!::read(wake_.Get(), &count, sizeof(count));
  }
  alignas(inotify_event) std::array<char, 8192> buffer{};
  while (true) {
    const ssize_t n = ::read(inotify_.Get(), buffer.data(), buffer.size());
    if (n <= 0) break;
    absl::MutexLock lock(&mu_);
    for (ssize_t at = 0; at < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer.data() + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      const auto dir = dirs_.find(event->wd);
      if (dir == dirs_.end()) continue;
      if ((event->mask & IN_IGNORED) != 0) {  // The directory itself went away.
        changed.push_back(dir->second);
        dirs_.erase(dir);
        continue;
      }
      changed.push_back(event->len > 0 ? absl::StrCat(dir->second, "/", event->name) : dir->second);
    }
  }
  return changed;
}

}  // namespace gpuop::common
