// Leader election between real processes on the real kube-apiserver.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "common/files.h"
#include "kube/micro_time.h"
#include "tests/integration/background_process.h"
#include "tests/integration/kube/informer_testing.h"

namespace gpuop::kube {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kLeaseDuration = std::chrono::seconds(6);  // As leader_candidate.cc sets it.

class LeaderElection : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = AdminClient();
    ns_ = gpuop::testing::UniqueName("election");
    ASSERT_TRUE(
        client_
            ->Create(resources::kNamespaces, "",
                     {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_}}}})
            .ok());
  }
  void TearDown() override { (void)client_->Delete(resources::kNamespaces, "", ns_); }

  std::unique_ptr<gpuop::testing::BackgroundProcess> Candidate(const std::string& identity) {
    return std::make_unique<gpuop::testing::BackgroundProcess>(
        std::vector<std::string>{LEADER_CANDIDATE, gpuop::testing::AdminKubeconfig(), ns_,
                                 "operator", identity},
        gpuop::testing::TestEnvState() + "/" + ns_ + "-" + identity + ".log");
  }

  std::string LogOf(const std::string& identity) {
    return common::ReadFile(gpuop::testing::TestEnvState() + "/" + ns_ + "-" + identity + ".log")
        .value_or("");
  }
  // Waits for a candidate's log to hold `text`.
  bool Logged(const std::string& identity, const std::string& text) {
    return WaitFor([&] { return LogOf(identity).find(text) != std::string::npos; },
                   std::chrono::seconds(5));
  }

  json Lease() {
    auto lease = client_->Get(resources::kLeases, ns_, "operator");
    return lease.ok() ? lease->value("spec", json::object()) : json::object();
  }
  std::string Holder() { return Lease().value("holderIdentity", ""); }

  std::unique_ptr<RestClient> client_;
  std::string ns_;
};

TEST_F(LeaderElection, StandbyTakesOverAfterTheLeaderDiesAndAtOnceAfterACleanRelease) {
  auto a = Candidate("a");
  ASSERT_TRUE(WaitFor([&] { return Holder() == "a"; }));
  EXPECT_TRUE(Logged("a", "msg=\"leader election: acquired the lease; leading\"")) << LogOf("a");
  auto b = Candidate("b");
  // The standby must not take a lease that is being renewed.
  EXPECT_FALSE(WaitFor([&] { return Holder() != "a"; }, std::chrono::seconds(2)));
  // And says who leads, so that its log is not silent.
  EXPECT_TRUE(
      Logged("b", "another candidate leads; standing by\" lease=" + ns_ + "/operator holder=a"))
      << LogOf("b");

  a->Signal(SIGKILL);  // No release: b has to wait for the lease to run out.
  const auto killed = Clock::now();
  a->Wait();
  ASSERT_TRUE(WaitFor([&] { return Holder() == "b"; }, 3 * kLeaseDuration));
  const auto takeover = Clock::now() - killed;
  // a renewed at most one retry period (0.5 s) before it died; b may lead only once that renewal
  // is a full lease duration old.
  EXPECT_GE(takeover, kLeaseDuration - std::chrono::seconds(1));
  EXPECT_EQ(Lease().value("leaseTransitions", 0), 1);

  auto c = Candidate("c");
  ASSERT_TRUE(
      Logged("c", "another candidate leads; standing by\" lease=" + ns_ + "/operator holder=b"))
      << LogOf("c");  // c is campaigning.
  b->Signal(SIGTERM);
  const auto released = Clock::now();
  ASSERT_TRUE(WaitFor([&] { return Holder() == "c"; }, 3 * kLeaseDuration));
  const auto handover = Clock::now() - released;
  // Without the release c would wait a whole lease duration.
  EXPECT_LT(handover, kLeaseDuration);
  EXPECT_EQ(b->Wait(), 0);
  EXPECT_THAT(LogOf("b"), ::testing::HasSubstr("leader election: released the lease"));

  std::cout << "leader killed -> standby leads: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(takeover).count()
            << " ms (lease duration " << kLeaseDuration.count() << " s)\n"
            << "leader released -> standby leads: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(handover).count() << " ms\n";
}

TEST_F(LeaderElection, ALeaderWhoseLeaseIsTakenStopsLeadingAtItsNextRenewal) {
  auto a = Candidate("a");
  ASSERT_TRUE(WaitFor([&] { return Holder() == "a"; }));

  // Someone else writes the lease as theirs (a forced takeover, or a clock gone wrong).
  auto lease = client_->Get(resources::kLeases, ns_, "operator");
  ASSERT_TRUE(lease.ok()) << lease.status();
  (*lease)["spec"]["holderIdentity"] = "thief";
  (*lease)["spec"]["renewTime"] = MicroTimeNow();
  ASSERT_TRUE(client_->Update(resources::kLeases, ns_, *lease).ok());
  const auto taken = Clock::now();

  const std::string log = gpuop::testing::TestEnvState() + "/" + ns_ + "-a.log";
  ASSERT_TRUE(WaitFor(
      [&] { return common::ReadFile(log).value_or("").find("stopped a") != std::string::npos; },
      kLeaseDuration));
  const auto stopped = Clock::now() - taken;
  // At its next renewal (every 0.5 s), not after a renew deadline (4 s) or lease (6 s).
  EXPECT_LT(stopped, std::chrono::seconds(2));
  EXPECT_EQ(a->Wait(), 0);
  EXPECT_EQ(Holder(), "thief");  // And it does not take the lease back.
  EXPECT_THAT(common::ReadFile(log).value_or(""),
              ::testing::HasSubstr("lost the lease: another candidate holds it\" lease=" + ns_ +
                                   "/operator identity=a holder=thief"));
  std::cout << "lease taken -> leader stops: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(stopped).count() << " ms\n";
}

}  // namespace
}  // namespace gpuop::kube
