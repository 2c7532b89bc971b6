#include "kube/leader_election.h"

#include <cmath>

#include "kube/api_error.h"
#include "kube/informer.h"
#include "kube/json_fields.h"
#include "kube/micro_time.h"

namespace gpuop::kube {

LeaderElector::LeaderElector(RestClient& client, LeaderElectionConfig config)
    : client_(client), config_(std::move(config)) {}

bool LeaderElector::IsLeader() const {
  absl::MutexLock lock(&mu_);
  return leader_;
}

void LeaderElector::SetLeader(bool leader) {
  absl::MutexLock lock(&mu_);
  leader_ = leader;
}

void LeaderElector::NoteLeaseChanged() {
  absl::MutexLock lock(&mu_);
  lease_changed_ = true;
}

void LeaderElector::WaitForLeaseChange(const common::StopSignal& stop,
                                       std::chrono::milliseconds timeout) {
  // Short slices so that `stop` is noticed quickly too.
  constexpr auto kSlice = std::chrono::milliseconds(100);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  absl::MutexLock lock(&mu_);
  while (!lease_changed_ && !stop.Stopped()) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::milliseconds(0)) break;
    mu_.AwaitWithTimeout(absl::Condition(&lease_changed_),
                         absl::FromChrono(std::min<std::chrono::nanoseconds>(left, kSlice)));
  }
  lease_changed_ = false;
}

LeaderElector::Attempt LeaderElector::TryAcquireOrRenew() {
  const std::string now = MicroTimeNow();
  const int64_t duration_seconds = static_cast<int64_t>(
      std::ceil(std::chrono::duration<double>(config_.lease_duration).count()));
  absl::StatusOr<json> lease =
      client_.Get(resources::kLeases, config_.lease_namespace, config_.lease_name);
  if (absl::IsNotFound(lease.status())) {
    const Record mine{config_.identity, duration_seconds, now, now, 0};
    const json object = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
        {"spec",
         {{"holderIdentity", mine.holder},
          {"leaseDurationSeconds", mine.lease_duration_seconds},
          {"acquireTime", mine.acquire_time},
          {"renewTime", mine.renew_time},
          {"leaseTransitions", mine.transitions}}}};
    if (!client_.Create(resources::kLeases, config_.lease_namespace, object).ok()) {
      return Attempt::kFailed;  // Most likely another candidate created it first.
    }
    observed_ = mine;
    observed_at_ = std::chrono::steady_clock::now();
    return Attempt::kHeld;
  }
  if (!lease.ok()) return Attempt::kFailed;

  const json spec = lease->value("spec", json::object());
  const Record current{StringField(spec, "holderIdentity"), IntField(spec, "leaseDurationSeconds"),
                       StringField(spec, "acquireTime"), StringField(spec, "renewTime"),
                       IntField(spec, "leaseTransitions")};
  if (current != observed_) {
    observed_ = current;
    observed_at_ = std::chrono::steady_clock::now();
  }
  const bool held_by_other = !current.holder.empty() && current.holder != config_.identity;
  // The holder's lease runs until lease_duration after we saw it renewed, by our own clock.
  const auto held_for = std::chrono::seconds(std::max<int64_t>(current.lease_duration_seconds, 1));
  if (held_by_other && std::chrono::steady_clock::now() < observed_at_ + held_for) {
    return Attempt::kHeldByOther;
  }

  Record next = current;
  next.holder = config_.identity;
  next.lease_duration_seconds = duration_seconds;
  next.renew_time = now;
  if (current.holder != config_.identity) {
    next.acquire_time = now;
    next.transitions = current.transitions + 1;
  }
  json updated = *std::move(lease);
  updated["spec"] = {{"holderIdentity", next.holder},
                     {"leaseDurationSeconds", next.lease_duration_seconds},
                     {"acquireTime", next.acquire_time},
                     {"renewTime", next.renew_time},
                     {"leaseTransitions", next.transitions}};
  // A PUT with the resourceVersion we read: if another candidate wrote in between, Conflict.
  absl::StatusOr<json> written =
      client_.Update(resources::kLeases, config_.lease_namespace, updated);
  if (!written.ok()) return IsConflict(written.status()) ? Attempt::kHeldByOther : Attempt::kFailed;
  observed_ = next;
  observed_at_ = std::chrono::steady_clock::now();
  return Attempt::kHeld;
}

void LeaderElector::Release() {
  absl::StatusOr<json> lease =
      client_.Get(resources::kLeases, config_.lease_namespace, config_.lease_name);
  if (!lease.ok()) return;
  json& spec = (*lease)["spec"];
  if (!spec.is_object() || StringField(spec, "holderIdentity") != config_.identity) return;
  // As client-go: no holder, and a one-second lease, so every standby may take it now.
  const std::string now = MicroTimeNow();
  spec["holderIdentity"] = "";
  spec["leaseDurationSeconds"] = 1;
  spec["acquireTime"] = now;
  spec["renewTime"] = now;
  (void)client_.Update(resources::kLeases, config_.lease_namespace, *lease);
}

void LeaderElector::Run(const common::StopSignal& stop,
                        const std::function<void()>& on_started_leading,
                        const std::function<void()>& on_stopped_leading) {
  {
    // Standbys follow the Lease so that a release (or a deletion) is noticed at once.
    Informer<bool> lease_watch(
        client_, resources::kLeases, config_.lease_namespace,
        {.field_selector = "metadata.name=" + config_.lease_name, .metadata_only = true},
        [](JsonElement) { return true; },
        {.on_add = [this](const std::string&) { NoteLeaseChanged(); },
         .on_update = [this](const std::string&) { NoteLeaseChanged(); },
         .on_delete = [this](const std::string&) { NoteLeaseChanged(); }});
    lease_watch.Start();
    while (!stop.Stopped() && TryAcquireOrRenew() != Attempt::kHeld) {
      WaitForLeaseChange(stop, config_.retry_period);
    }
  }
  if (stop.Stopped()) return;

  SetLeader(true);
  if (on_started_leading) on_started_leading();
  auto renewed_at = std::chrono::steady_clock::now();
  while (true) {
    if (stop.SleepFor(config_.retry_period)) {
      Release();
      break;
    }
    const Attempt attempt = TryAcquireOrRenew();
    if (attempt == Attempt::kHeld) {
      renewed_at = std::chrono::steady_clock::now();
      continue;
    }
    // Someone else holds it: we are no longer the leader, whatever the deadline says.
    if (attempt == Attempt::kHeldByOther) break;
    if (std::chrono::steady_clock::now() - renewed_at >= config_.renew_deadline) break;
  }
  SetLeader(false);
  if (on_stopped_leading) on_stopped_leading();
}

}  // namespace gpuop::kube
