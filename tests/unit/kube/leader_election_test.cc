// Leader election against an API server it cannot use: it says so at once, with the server's URL
// and the reason, then keeps quiet between throttled lines; and a stop ends its campaign at once.
// The elections themselves run against the real kube-apiserver (tests/integration/kube).

#include "kube/leader_election.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"

#include "common/files.h"
#include "common/logger.h"
#include "tests/fixtures/test_files.h"
#include "tests/fixtures/wait_for.h"
#include "tests/unit/kube/scripted_http_server.h"

namespace gpuop::kube {
namespace {

using gpuop::testing::WaitFor;
using ::testing::HasSubstr;

constexpr char kCampaignFailed[] = "leader election: cannot read or take the lease";
constexpr char kLeasePath[] = "/apis/coordination.k8s.io/v1/namespaces/ops/leases/gpuop";

int CountLines(const std::string& text, absl::string_view containing) {
  int count = 0;
  for (const absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StrContains(line, containing)) ++count;
  }
  return count;
}

// A candidate campaigning on its own thread, logging as text to a file the test reads.
class Campaign {
 public:
  explicit Campaign(const std::string& server)
      : log_path_(gpuop::testing::ScratchDir("leader-election") + "/campaign.log"),
        file_(log_path_, std::ios::trunc),
        log_(file_, common::LogFormat::kText) {
    auto client = RestClient::Create({.server = server});
    EXPECT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    elector_ = std::make_unique<LeaderElector>(
        *client_,
        LeaderElectionConfig{.lease_namespace = "ops",
                             .lease_name = "gpuop",
                             .identity = "operator-a",
                             .lease_duration = std::chrono::seconds(3),
                             .renew_deadline = std::chrono::seconds(2),
                             .retry_period = std::chrono::milliseconds(100)},
        log_);
    thread_ = std::thread([this] {
      const auto on_started_leading = [this] { led_ = true; };
      elector_->Run(stop_, on_started_leading, nullptr);
      returned_.Notify();
    });
  }
  ~Campaign() {
    stop_.Stop();
    thread_.join();
  }

  std::string Log() const { return common::ReadFile(log_path_).value_or(""); }
  // Stops the candidate; true when Run returned within `timeout`.
  bool StopWithin(std::chrono::milliseconds timeout) {
    stop_.Stop();
    return returned_.WaitForNotificationWithTimeout(absl::FromChrono(timeout));
  }
  bool Led() const { return led_; }

 private:
  const std::string log_path_;
  std::ofstream file_;
  common::Logger log_;
  std::unique_ptr<RestClient> client_;
  std::unique_ptr<LeaderElector> elector_;
  common::StopSignal stop_;
  absl::Notification returned_;
  std::atomic<bool> led_{false};
  std::thread thread_;
};

TEST(LeaderElector, AnUnreachableServerIsLoggedAtOnceWithItsUrlAndAStopEndsTheCampaign) {
  std::string url;
  {
    testing::ScriptedHttpServer server;  // Gone at the end of the block: its port is closed.
    url = server.Url();
  }
  Campaign campaign(url);

  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(campaign.Log(), kCampaignFailed); },
                      std::chrono::seconds(5)))
      << campaign.Log();
  const std::string log = campaign.Log();
  EXPECT_THAT(log, HasSubstr("server=" + url));
  EXPECT_THAT(log, HasSubstr(url + kLeasePath));  // The failed call, in the error.
  EXPECT_THAT(log, HasSubstr("lease=ops/gpuop"));
  EXPECT_THAT(log, HasSubstr("failures=1"));

  EXPECT_TRUE(campaign.StopWithin(std::chrono::seconds(2)));
  EXPECT_FALSE(campaign.Led());
}

TEST(LeaderElector, RepeatedFailuresAreLoggedOnceUntilTheIntervalEnds) {
  testing::ScriptedHttpServer server;  // No script: every call is answered 500.
  Campaign campaign(server.Url());

  const auto lease_reads = [&] {
    int reads = 0;
    for (const testing::RecordedRequest& request : server.Requests()) {
      if (request.method == "GET" && request.target == kLeasePath) ++reads;
    }
    return reads;
  };
  ASSERT_TRUE(WaitFor([&] { return lease_reads() >= 5; }, std::chrono::seconds(5)))
      << campaign.Log();
  const std::string log = campaign.Log();
  EXPECT_EQ(CountLines(log, kCampaignFailed), 1) << log;
  EXPECT_THAT(log, HasSubstr("script exhausted"));  // The server's answer, as the reason.

  EXPECT_TRUE(campaign.StopWithin(std::chrono::seconds(2)));
}

}  // namespace
}  // namespace gpuop::kube
