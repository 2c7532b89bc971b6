#pragma once

// Tells the cluster admin, on the Node object, what the VFIO manager could not do: a Warning
// Event "VfioBindFailed" naming each device and why, and a Normal "VfioBound" once every GPU is
// on vfio again. An Event goes out only when the outcome changes, not on every resync.

#include <optional>
#include <string>

#include "common/logger.h"
#include "kube/event_recorder.h"
#include "kube/rest_client.h"
#include "operands/vfio_manager/vfio_manager.h"

namespace gpuop::operands {

struct NodeNotice {
  std::string type;    // "Normal" or "Warning".
  std::string reason;  // "VfioBindFailed", "VfioBound", "NoDevicesToBind".
  std::string note;
  bool operator==(const NodeNotice&) const = default;
};

// What a pass has to say to the admin; nullopt while there is nothing to say.
std::optional<NodeNotice> NoticeFor(const VfioPassReport& report);

class VfioNodeReporter {
 public:
  VfioNodeReporter(kube::RestClient& client, kube::EventRecorder& recorder, std::string node_name,
                   common::Logger& log);

  // Records the pass's notice as an Event on the node when it differs from the last one sent.
  // Failures to reach the API are logged and retried on the next pass.
  void Report(const VfioPassReport& report);

 private:
  kube::RestClient& client_;
  kube::EventRecorder& recorder_;
  const std::string node_name_;
  common::Logger& log_;
  std::optional<kube::ObjectReference> node_;
  std::optional<NodeNotice> last_sent_;
};

}  // namespace gpuop::operands
