#pragma once

// The ready files that order the node agents (/run/nvidia/validations): waiting for one to
// appear, and taking them back when the validator pod stops. These are what the agents' init
// containers and the validator's main container run, so the image needs no shell, sleep or rm.

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"

#include "common/stop_signal.h"

namespace gpuop::operands {

// Returns once `path` exists. The folder is watched with inotify before the first look, so a
// file made in between is not missed, and created if missing (it is a hostPath that may not
// exist yet). DeadlineExceeded after `timeout` (0: no limit); Cancelled when `stop` fires.
absl::Status WaitForFile(const std::string& path, std::chrono::milliseconds timeout,
                         const common::StopSignal& stop);

// Blocks until `stop` fires, then removes `files` (a missing one is fine): the validator pod's
// main container, whose stop must take its proofs back so that nothing relies on them once the
// validator is gone (a workload flip, an uninstall). The files that could not be removed.
std::vector<std::string> HoldThenRemove(const std::vector<std::string>& files,
                                        const common::StopSignal& stop);

}  // namespace gpuop::operands
