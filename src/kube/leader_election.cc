#include "kube/leader_election.h"

#include <cmath>

#include "absl/strings/str_cat.h"

#include "common/clock.h"
#include "common/status_macros.h"
#include "kube/api_error.h"
#include "kube/informer.h"
#include "kube/json_fields.h"
#include "kube/micro_time.h"

namespace gpuop::kube {
namespace {

// A candidate that cannot reach its API server retries every retry_period (2 s by default): the
// first failure is logged at once, then one line per this long says how many followed.
constexpr auto kFailureLogInterval = std::chrono::seconds(30);

}  // namespace

LeaderElector::LeaderElector(RestClient& client, LeaderElectionConfig config, common::Logger& log)
    : client_(client), config_(std::move(config)), log_(log), failures_(kFailureLogInterval) {}

void LeaderElector::ReportFailure(std::string_view message, const absl::Status& error) {
  const int64_t failures = failures_.Failed();
  if (failures == 0) return;
  log_.Warn(message, {{"server", client_.Config().server},
                      {"lease", LeaseKey()},
                      {"error", std::string(error.message())},
                      {"failures", absl::StrCat(failures)}});
}

void LeaderElector::ReportAnswered() {
  const int64_t failures = failures_.Succeeded();
  if (failures == 0) return;
  log_.Info("leader election: the API server answers again",
            {{"server", client_.Config().server},
             {"lease", LeaseKey()},
             {"failures", absl::StrCat(failures)}});
}

void LeaderElector::ReportHolder() {
  if (observed_.holder.empty() || observed_.holder == reported_holder_) return;
  reported_holder_ = observed_.holder;
  log_.Info("leader election: another candidate leads; standing by",
            {{"lease", LeaseKey()}, {"holder", observed_.holder}, {"identity", config_.identity}});
}

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
  const common::Clock& clock = common::SteadyClock::Instance();
  const auto deadline = clock.Now() + timeout;
  absl::MutexLock lock(&mu_);
  while (!lease_changed_ && !stop.Stopped()) {
    const auto left = deadline - clock.Now();
    if (left <= std::chrono::milliseconds(0)) break;
    mu_.AwaitWithTimeout(absl::Condition(&lease_changed_),
                         absl::FromChrono(std::min<std::chrono::nanoseconds>(left, kSlice)));
  }
  lease_changed_ = false;
}

absl::StatusOr<LeaderElector::Attempt> LeaderElector::TryAcquireOrRenew() {
  const common::Clock& clock = common::SteadyClock::Instance();
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
    if (absl::Status created =
            client_.Create(resources::kLeases, config_.lease_namespace, object).status();
        !created.ok()) {
      // AlreadyExists: another candidate created it first.
      if (IsConflict(created)) return Attempt::kHeldByOther;
      return created;
    }
    observed_ = mine;
    observed_at_ = clock.Now();
    return Attempt::kHeld;
  }
  if (!lease.ok()) return lease.status();

  const json spec = lease->value("spec", json::object());
  const Record current{StringField(spec, "holderIdentity"), IntField(spec, "leaseDurationSeconds"),
                       StringField(spec, "acquireTime"), StringField(spec, "renewTime"),
                       IntField(spec, "leaseTransitions")};
  if (current != observed_) {
    observed_ = current;
    observed_at_ = clock.Now();
  }
  const bool held_by_other = !current.holder.empty() && current.holder != config_.identity;
  // The holder's lease runs until lease_duration after we saw it renewed, by our own clock.
  const auto held_for = std::chrono::seconds(std::max<int64_t>(current.lease_duration_seconds, 1));
  if (held_by_other && clock.Now() < observed_at_ + held_for) {
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
  if (!written.ok()) {
    if (IsConflict(written.status())) return Attempt::kHeldByOther;
    return written.status();
  }
  observed_ = next;
  observed_at_ = clock.Now();
  return Attempt::kHeld;
}

absl::StatusOr<bool> LeaderElector::TryRelease() {
  GPUOP_ASSIGN_OR_RETURN(
      json lease, client_.Get(resources::kLeases, config_.lease_namespace, config_.lease_name));
  json& spec = lease["spec"];
  if (!spec.is_object() || StringField(spec, "holderIdentity") != config_.identity) return false;
  // As client-go: no holder, and a one-second lease, so every standby may take it now.
  const std::string now = MicroTimeNow();
  spec["holderIdentity"] = "";
  spec["leaseDurationSeconds"] = 1;
  spec["acquireTime"] = now;
  spec["renewTime"] = now;
  GPUOP_RETURN_IF_ERROR(
      client_.Update(resources::kLeases, config_.lease_namespace, lease).status());
  return true;
}

void LeaderElector::Release() {
  const absl::StatusOr<bool> released = TryRelease();
  if (!released.ok()) {
    log_.Warn("leader election: cannot release the lease; a standby takes over when it runs out",
              {{"server", client_.Config().server},
               {"lease", LeaseKey()},
               {"error", std::string(released.status().message())}});
  } else if (*released) {
    log_.Info("leader election: released the lease", {{"lease", LeaseKey()}});
  }
}

void LeaderElector::Run(const common::StopSignal& stop,
                        const std::function<void()>& on_started_leading,
                        const std::function<void()>& on_stopped_leading) {
  bool acquired = false;
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
    while (!stop.Stopped()) {
      const absl::StatusOr<Attempt> attempt = TryAcquireOrRenew();
      if (!attempt.ok()) {
        ReportFailure("leader election: cannot read or take the lease; will retry",
                      attempt.status());
      } else {
        ReportAnswered();
        if (*attempt == Attempt::kHeld) {
          acquired = true;
          break;
        }
        ReportHolder();
      }
      WaitForLeaseChange(stop, config_.retry_period);
    }
  }  // The lease watch stops here, which may take a second (its watch call ends).
  if (stop.Stopped()) {
    // A stop while the watch ended, after the lease was taken: give it back, or the standbys
    // wait a whole lease duration for a leader that never led.
    if (acquired) Release();
    return;
  }

  log_.Info("leader election: acquired the lease; leading",
            {{"lease", LeaseKey()}, {"identity", config_.identity}});
  SetLeader(true);
  if (on_started_leading) on_started_leading();
  const common::Clock& clock = common::SteadyClock::Instance();
  auto renewed_at = clock.Now();
  while (true) {
    if (stop.SleepFor(config_.retry_period)) {
      Release();
      break;
    }
    const absl::StatusOr<Attempt> attempt = TryAcquireOrRenew();
    if (attempt.ok() && *attempt == Attempt::kHeld) {
      ReportAnswered();
      renewed_at = clock.Now();
      continue;
    }
    // Someone else holds it: we are no longer the leader, whatever the deadline says.
    if (attempt.ok()) {
      // After a conflicting write we have not read the new holder yet.
      const bool holder_known = observed_.holder != config_.identity;
      log_.Error("leader election: lost the lease: another candidate holds it",
                 {{"lease", LeaseKey()},
                  {"identity", config_.identity},
                  {"holder", holder_known ? observed_.holder : "(not read yet)"}});
      break;
    }
    ReportFailure("leader election: cannot renew the lease; will retry until the renew deadline",
                  attempt.status());
    if (clock.Now() - renewed_at >= config_.renew_deadline) {
      log_.Error("leader election: lost the lease: not renewed within the renew deadline",
                 {{"lease", LeaseKey()},
                  {"identity", config_.identity},
                  {"renew_deadline_ms", absl::StrCat(config_.renew_deadline.count())},
                  {"server", client_.Config().server},
                  {"error", std::string(attempt.status().message())}});
      break;
    }
  }
  SetLeader(false);
  if (on_stopped_leading) on_stopped_leading();
}

}  // namespace gpuop::kube
