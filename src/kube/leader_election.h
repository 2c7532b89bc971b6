#pragma once

// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules: a candidate takes
// the lease when it is free or when its holder has not renewed it for lease_duration (judged by
// when *we* last saw it change, so clocks need not agree); the leader renews every
// retry_period and gives up the moment it has failed to renew for renew_deadline; a leader
// that stops cleanly releases the lease so a standby takes over at once. Standbys also watch
// the Lease, so they notice a release immediately rather than on their next retry.
//
//   LeaderElector elector(client, {.lease_namespace = ns, .lease_name = "gpuop-operator",
//                                  .identity = pod_name});
//   elector.Run(stop, [&] { RunControllers(); }, [&] { StopAtOnce(); });

#include <chrono>
#include <functional>
#include <string>

#include "absl/synchronization/mutex.h"

#include "common/stop_signal.h"
#include "kube/rest_client.h"

namespace gpuop::kube {

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  // Unique per candidate: the pod name, say.
  // client-go's defaults for controllers.
  std::chrono::milliseconds lease_duration = std::chrono::seconds(15);
  std::chrono::milliseconds renew_deadline = std::chrono::seconds(10);
  std::chrono::milliseconds retry_period = std::chrono::seconds(2);
};

class LeaderElector {
 public:
  LeaderElector(RestClient& client, LeaderElectionConfig config);

  // Campaigns until this candidate leads or `stop` fires. While leading, renews; calls
  // on_started_leading once on taking the lease (on this thread, so it must return quickly:
  // start work elsewhere) and on_stopped_leading once when leadership ends, whether lost or
  // released. Returns after leadership ended or `stop` fired; on `stop` a leader releases the
  // lease first. A candidate that lost the lease does not campaign again: the process should
  // exit and start afresh, as controllers built on client-go do.
  void Run(const common::StopSignal& stop, const std::function<void()>& on_started_leading,
           const std::function<void()>& on_stopped_leading);

  bool IsLeader() const;

 private:
  struct Record {
    std::string holder;
    int64_t lease_duration_seconds = 0;
    std::string acquire_time;
    std::string renew_time;
    int64_t transitions = 0;
    bool operator==(const Record&) const = default;
  };

  enum class Attempt { kHeld, kHeldByOther, kFailed };
  // One attempt to take or renew the lease.
  Attempt TryAcquireOrRenew();
  void Release();
  void SetLeader(bool leader);
  // Waits up to `timeout` for the Lease to change (or `stop`); returns at once if it already did.
  void WaitForLeaseChange(const common::StopSignal& stop, std::chrono::milliseconds timeout);
  void NoteLeaseChanged();

  RestClient& client_;
  const LeaderElectionConfig config_;
  Record observed_;
  std::chrono::steady_clock::time_point observed_at_;
  mutable absl::Mutex mu_;
  bool leader_ ABSL_GUARDED_BY(mu_) = false;
  bool lease_changed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace gpuop::kube
