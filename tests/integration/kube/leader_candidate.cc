// A leader-election candidate as its own process, for the leader election test:
//   leader_candidate KUBECONFIG NAMESPACE LEASE IDENTITY
// Prints "leading IDENTITY" and "stopped IDENTITY" as leadership starts and ends; SIGTERM makes
// a leader release the lease and exit 0.

#include <signal.h>

#include <iostream>
#include <thread>

#include "common/logger.h"
#include "common/stop_signal.h"
#include "kube/leader_election.h"
#include "kube/rest_client.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: leader_candidate KUBECONFIG NAMESPACE LEASE IDENTITY\n";
    return 2;
  }
  // Block SIGTERM in every thread; one thread takes it synchronously and stops the elector.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto config = gpuop::kube::LoadKubeconfig(argv[1]);
  if (!config.ok()) {
    std::cerr << config.status() << "\n";
    return 1;
  }
  auto client = gpuop::kube::RestClient::Create(*config);
  if (!client.ok()) return 1;
  gpuop::common::StopSignal stop;
  std::thread signal_waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    stop.Stop();
  });
  signal_waiter.detach();

  const std::string identity = argv[4];
  // The elector's own lines go to stderr, into the test's log of this candidate.
  gpuop::common::Logger log(std::cerr, gpuop::common::LogFormat::kText);
  gpuop::kube::LeaderElector elector(**client,
                                     {.lease_namespace = argv[2],
                                      .lease_name = argv[3],
                                      .identity = identity,
                                      .lease_duration = std::chrono::seconds(6),
                                      .renew_deadline = std::chrono::seconds(4),
                                      .retry_period = std::chrono::milliseconds(500)},
                                     log);
  elector.Run(
      stop, [&] { std::cout << "leading " << identity << std::endl; },
      [&] { std::cout << "stopped " << identity << std::endl; });
  return 0;
}
