#include "operator/operator_controllers.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

#include "common/clock.h"
#include "common/log_throttle.h"
#include "kube/api_error.h"
#include "kube/resource.h"
#include "operator/active_policy.h"

namespace gpuop::op {
namespace {

// An operator that cannot reach its API server retries quickly at first, then every few seconds;
// it says so at once, then once per kFailureLogInterval with the count of failures since.
constexpr auto kFirstRetry = std::chrono::milliseconds(500);
constexpr auto kLongestRetry = std::chrono::seconds(5);
constexpr auto kFailureLogInterval = std::chrono::seconds(30);
// One list call of the probe; curl gives up connecting after 10 s whatever this says.
constexpr auto kListTimeout = std::chrono::seconds(10);

}  // namespace

OperatorControllers::OperatorControllers(kube::RestClient& client, kube::EventRecorder& recorder,
                                         common::Logger& log, OperatorOptions options)
    : client_(client), log_(log) {
  cached_paths_ = {kube::resources::kNodes.Path(""), kClusterPolicies.Path("")};
  // One ClusterPolicy cache for both controllers: one list and one watch on the API server,
  // and both see the same policy at the same time.
  const auto changed = [this](const std::string&) {
    labels_->OnPolicyChanged();
    if (operands_) operands_->OnPolicyChanged();
  };
  policies_ = std::make_unique<kube::Informer<PolicyView>>(
      client, kClusterPolicies, "", kube::ListWatchOptions{}, ProjectPolicy,
      kube::InformerHandlers{.on_add = changed, .on_update = changed, .on_delete = changed});
  if (options.deploy_operands) {
    cached_paths_.push_back(
        kube::resources::kDaemonSets.Path(options.operands.render.operator_namespace));
    options.labels.operand_facts = [this] { return operands_->Facts(); };
    options.operands.on_facts_changed = [this] { labels_->RefreshStatus(); };
    // The driver image's tag follows the GPU nodes' OS: a new OS tag is a new render.
    options.operands.node_facts = [this] { return labels_->ContainerFacts(); };
    options.labels.on_container_facts_changed = [this] {
      if (operands_) operands_->OnPolicyChanged();
    };
    operands_ =
        std::make_unique<OperandController>(client, log, *policies_, std::move(options.operands));
  }
  labels_ = std::make_unique<NodeLabelController>(client, recorder, log, *policies_,
                                                  std::move(options.labels));
}

OperatorControllers::~OperatorControllers() { Stop(); }

absl::Status OperatorControllers::ListOnceEach(const common::StopSignal& stop) {
  for (const std::string& path : cached_paths_) {
    std::string path_and_query = path;
    kube::AppendQueryParam(path_and_query, "limit", "1");
    // Stream rather than Get because it takes a cancel flag: a stop must not wait for a call
    // stuck connecting to an address that drops packets.
    absl::StatusOr<common::HttpResponse> response = client_.Stream(
        {.path_and_query = path_and_query,
         .accept = kube::kAcceptMetadataList,
         .timeout = kListTimeout},
        [](std::string_view) { return true; }, stop.Flag());
    if (!response.ok()) return response.status();
    if (response->status < 200 || response->status > 299) {
      return kube::ApiError(response->status, response->body, "list " + path);
    }
  }
  return absl::OkStatus();
}

bool OperatorControllers::WaitForApiServer(const common::StopSignal& stop,
                                           std::chrono::milliseconds timeout) {
  common::Clock& clock = common::SteadyClock::Instance();
  const common::Clock::TimePoint deadline = clock.Now() + timeout;
  common::LogThrottle failures(kFailureLogInterval, clock);
  std::chrono::milliseconds retry = kFirstRetry;
  while (!stop.Stopped()) {
    const absl::Status answered = ListOnceEach(stop);
    if (answered.ok()) {
      if (const int64_t count = failures.Succeeded(); count > 0) {
        log_.Info("the API server answers again",
                  {{"server", client_.Config().server}, {"failures", absl::StrCat(count)}});
      }
      return true;
    }
    if (stop.Stopped()) break;
    if (const int64_t count = failures.Failed(); count > 0) {
      log_.Warn("cannot list from the API server; will retry",
                {{"server", client_.Config().server},
                 {"error", std::string(answered.message())},
                 {"failures", absl::StrCat(count)}});
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.Now());
    if (left <= std::chrono::milliseconds(0)) {
      log_.Error("the API server did not answer in time; giving up",
                 {{"server", client_.Config().server},
                  {"timeout_ms", absl::StrCat(timeout.count())},
                  {"error", std::string(answered.message())}});
      return false;
    }
    if (stop.SleepFor(std::min(retry, left))) break;
    retry = std::min<std::chrono::milliseconds>(retry * 2, kLongestRetry);
  }
  return false;
}

bool OperatorControllers::Start(const common::StopSignal& stop,
                                std::chrono::milliseconds sync_timeout) {
  // The caches' own wait (NodeLabelController::Start) hears no stop: it may only begin once the
  // API answers, so that an operator pointed at a dead address still ends at once on SIGTERM.
  if (!WaitForApiServer(stop, sync_timeout)) return false;
  policies_->Start();
  if (!policies_->WaitForSync(sync_timeout)) {
    log_.Error("the ClusterPolicy cache did not fill; is the API reachable?",
               {{"timeout_ms", absl::StrCat(sync_timeout.count())}});
    policies_->Stop();
    return false;
  }
  if (!labels_->Start(sync_timeout)) {
    policies_->Stop();
    return false;
  }
  if (operands_ && !operands_->Start(sync_timeout)) {
    labels_->Stop();
    policies_->Stop();
    return false;
  }
  return true;
}

bool OperatorControllers::Start(std::chrono::milliseconds sync_timeout) {
  const common::StopSignal never;
  return Start(never, sync_timeout);
}

void OperatorControllers::Stop() {
  // Its watch may end at once (about a second, overlapping the others'); its thread is joined
  // last, below, since its events call into both controllers.
  policies_->RequestStop();
  // Operands first: their worker calls into the labels controller.
  if (operands_) operands_->Stop();
  labels_->Stop();
  // Last: its events call into both controllers.
  policies_->Stop();
}

}  // namespace gpuop::op
