#pragma once

// What the kata manager tells the cluster on its Node: the annotation gpuop.io/kata-artifacts
// with the installed digests, a Warning Event per runtime class that failed (and one for a
// containerd config it could not change), a Normal Event when artifacts were (re)installed.
// Each goes out when it changes, not on every resync. Also reads what the pass needs from the
// API: the node's labels and the pull secrets.

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

#include "common/logger.h"
#include "kube/event_recorder.h"
#include "kube/rest_client.h"
#include "operands/kata_manager/kata_manager.h"

namespace gpuop::operands {

// The kata manager's Node as its agent (kata_manager_agent.h) sees it: KataNodeReporter through
// the API; tests give their own.
class KataNode {
 public:
  virtual ~KataNode() = default;
  virtual absl::StatusOr<std::map<std::string, std::string>> NodeLabels() = 0;
  // What kubelet reports in status.nodeInfo.containerRuntimeVersion: "containerd://1.7.27".
  virtual absl::StatusOr<std::string> ContainerRuntimeVersion() = 0;
  // The `.dockerconfigjson` of a kubernetes.io/dockerconfigjson Secret in the agent's namespace.
  virtual absl::StatusOr<std::string> PullSecret(const std::string& name) = 0;
  // Failures to reach the API are logged and tried again on the next pass.
  virtual void Report(const KataPassReport& report) = 0;
};

class KataNodeReporter final : public KataNode {
 public:
  KataNodeReporter(kube::RestClient& client, kube::EventRecorder& recorder, std::string node_name,
                   std::string ns, common::Logger& log);

  absl::StatusOr<std::map<std::string, std::string>> NodeLabels() override;
  absl::StatusOr<std::string> ContainerRuntimeVersion() override;
  absl::StatusOr<std::string> PullSecret(const std::string& name) override;
  void Report(const KataPassReport& report) override;

 private:
  kube::RestClient& client_;
  kube::EventRecorder& recorder_;
  const std::string node_name_;
  const std::string ns_;
  common::Logger& log_;
  std::optional<kube::ObjectReference> node_;
  std::string annotated_;                      // The annotation's value we last wrote.
  std::map<std::string, std::string> warned_;  // reason/subject -> the note last sent
};

}  // namespace gpuop::operands
