#pragma once

// Tells a node agent that entries appeared in or left directories it cares about (inotify), so
// it reacts to a device node or socket coming and going at once instead of polling. Another
// thread (a uevent listener, a shutdown) can interrupt a Wait with Wake().
//
//   auto events = FileEvents::Create();
//   (*events)->Watch("/dev/vfio");
//   for (const std::string& path : (*events)->Wait(1s)) ...  // "/dev/vfio/38"

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "common/unique_fd.h"

namespace gpuop::common {

class FileEvents {
 public:
  static absl::StatusOr<std::unique_ptr<FileEvents>> Create();

  // Watches `dir` for entries created, deleted, moved in or out, and files closed after
  // writing. False when `dir` does not exist (yet): call again later. A watched directory that
  // is deleted is forgotten, and Watching() says so.
  bool Watch(const std::string& dir);
  bool Watching(const std::string& dir) const;

  // The paths ("<dir>/<name>") that changed, once one did, or Wake() was called, or `timeout`
  // passed (then empty).
  std::vector<std::string> Wait(std::chrono::milliseconds timeout);
  // Ends the current or next Wait at once. Safe from any thread.
  void Wake();

 private:
  FileEvents(UniqueFd inotify, UniqueFd wake)
      : inotify_(std::move(inotify)), wake_(std::move(wake)) {}

  UniqueFd inotify_;
  UniqueFd wake_;  // eventfd
  mutable absl::Mutex mu_;
  std::map<int, std::string> dirs_ ABSL_GUARDED_BY(mu_);  // watch descriptor -> directory
};

}  // namespace gpuop::common
