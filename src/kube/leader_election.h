#pragma once

// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules: a candidate takes
// the lease when it is free or when its holder has not renewed it for lease_duration (judged by
// when *we* last saw it change, so clocks need not agree); the leader renews every
// retry_period and gives up the moment it has failed to renew for renew_deadline; a leader
// that stops cleanly releases the lease so a standby takes over at once. Standbys also watch
// the Lease, so they notice a release immediately rather than on their next retry.
//
// It logs what an admin needs to tell "standing by" from "stuck": each transition (acquired,
// lost and why, released), who leads while it stands by, and every failure to read or write the
// Lease with the server's URL and the reason, the first at once and then at most one line per
// 30 s with the count since: a candidate that cannot reach its API server retries every
// retry_period, and a line per retry would bury everything else.
//
//   LeaderElector elector(client, {.lease_namespace = ns, .lease_name = "gpuop-operator",
//                                  .identity = pod_name}, log);
//   elector.Run(stop, [&] { RunControllers(); }, [&] { StopAtOnce(); });

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "common/log_throttle.h"
#include "common/logger.h"
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
  LeaderElector(RestClient& client, LeaderElectionConfig config, common::Logger& log);

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

  enum class Attempt { kHeld, kHeldByOther };
  // One attempt to take or renew the lease; an error when the API did not answer as it should
  // (unreachable, forbidden, ...), a lost race for the Lease being kHeldByOther.
  absl::StatusOr<Attempt> TryAcquireOrRenew();
  // Hands the lease back: true when it did, false when we no longer held it.
  absl::StatusOr<bool> TryRelease();
  // TryRelease, logging what became of the lease.
  void Release();
  // Logs a failed attempt, throttled; and, after failures, that the API answers again.
  void ReportFailure(std::string_view message, const absl::Status& error);
  void ReportAnswered();
  // Logs who leads while we stand by, each time that changes.
  void ReportHolder();
  std::string LeaseKey() const { return config_.lease_namespace + "/" + config_.lease_name; }
  void SetLeader(bool leader);
  // Waits up to `timeout` for the Lease to change (or `stop`); returns at once if it already did.
  void WaitForLeaseChange(const common::StopSignal& stop, std::chrono::milliseconds timeout);
  void NoteLeaseChanged();

  RestClient& client_;
  const LeaderElectionConfig config_;
  common::Logger& log_;
  common::LogThrottle failures_;
  std::string reported_holder_;  // The last holder logged while standing by.
  Record observed_;
  std::chrono::steady_clock::time_point observed_at_;
  mutable absl::Mutex mu_;
  bool leader_ ABSL_GUARDED_BY(mu_) = false;
  bool lease_changed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace gpuop::kube
