#pragma once

// Records events.k8s.io/v1 Events about any object, where `kubectl describe` and
// `kubectl get events` show them. A repeat of the same event (same object, type, reason,
// action and note) bumps the existing Event's series count instead of creating another object,
// so a condition that recurs every reconcile cannot flood etcd. Thread-safe.
//
//   recorder.Warning(NodeRef(node), "InvalidWorkloadConfig", "Route",
//                    "nvidia.com/gpu.workload.config=\"vm-pass\" is not one of ...");

#include <cstdint>
#include <list>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

#include "kube/rest_client.h"

namespace gpuop::kube {

// The object an Event is about.
struct ObjectReference {
  std::string api_version;  // "v1"
  std::string kind;         // "Node"
  std::string name;
  std::string ns;  // Empty for cluster-scoped objects.
  std::string uid;
};

// The reference of an object as the API returned it.
ObjectReference ReferenceTo(const json& object);

class EventRecorder {
 public:
  // `controller` names the reporter ("gpuop.io/operator"), `instance` this replica (pod name).
  EventRecorder(RestClient& client, std::string controller, std::string instance);

  absl::Status Normal(const ObjectReference& regarding, const std::string& reason,
                      const std::string& action, const std::string& note) {
    return Record(regarding, "Normal", reason, action, note);
  }
  absl::Status Warning(const ObjectReference& regarding, const std::string& reason,
                       const std::string& action, const std::string& note) {
    return Record(regarding, "Warning", reason, action, note);
  }
  // type is "Normal" or "Warning"; reason and action are CamelCase words; the note is cut to
  // the API's 1 KiB limit.
  absl::Status Record(const ObjectReference& regarding, const std::string& type,
                      const std::string& reason, const std::string& action,
                      const std::string& note);

 private:
  struct Series {
    std::string ns;
    std::string name;
    int64_t count = 1;
    std::list<std::string>::iterator lru;
  };

  RestClient& client_;
  const std::string controller_;
  const std::string instance_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Series> series_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // Most recent first.
};

}  // namespace gpuop::kube
