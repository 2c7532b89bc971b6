#pragma once

// What the validator's steps decide from their Node's labels: the workload the vfio-pci step
// checks for, and whether the cc-manager step has a CC manager to wait for.

#include <chrono>
#include <functional>
#include <string>

#include "absl/status/statusor.h"

#include "common/stop_signal.h"

namespace gpuop::operands {

// The value of one of the node's labels, "" when the node has none, or why the API could not
// say. The binary asks the API (cli/agent_main.h); tests give a map.
using NodeLabelReader = std::function<absl::StatusOr<std::string>(const std::string& key)>;

// The workload the vfio-pci step checks for: `given` (--workload), else the node's
// nvidia.com/gpu.workload.config where there is a node to read it from (`node_name` not empty),
// else `fallback`. A read's error names the node.
absl::StatusOr<std::string> ChooseWorkload(const std::string& given, const std::string& node_name,
                                           const NodeLabelReader& read,
                                           const std::string& fallback);

// The node's nvidia.com/cc.capable, for the cc-manager step. The step runs only where a CC
// manager is deployed, and that agent sets the label before it pauses or switches anything:
// until it has, there is no answer yet, not a "no", and the label is read again every `poll`.
// DeadlineExceeded after `timeout` (0: as long as it takes); Cancelled, with no message, when
// `stop` fires (a stopped init container has nothing to say); a read's error names the node.
absl::StatusOr<std::string> WaitForCcCapable(
    const std::string& node_name, const NodeLabelReader& read, std::chrono::milliseconds timeout,
    const common::StopSignal& stop, std::chrono::milliseconds poll = std::chrono::seconds(2));

}  // namespace gpuop::operands
