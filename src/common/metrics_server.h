#pragma once

// The HTTP endpoint every long-running agent serves: /metrics (Prometheus text format, from a
// prometheus-cpp registry), /healthz (the process answers) and /readyz (the agent says it has
// done its job, e.g. every GPU is on vfio). Kubelet probes and Prometheus scrape it; it runs on
// civetweb's own threads until destroyed.
//
//   auto registry = std::make_shared<prometheus::Registry>();
//   ASSIGN_OR_RETURN(auto server, MetricsServer::Start(":8080", registry));
//   server->SetReady(false, "2 GPUs not on vfio-pci");

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "prometheus/collectable.h"
#include "prometheus/registry.h"

struct mg_context;
struct mg_connection;

namespace gpuop::common {

class MetricsServer {
 public:
  // `address` is "[host]:port": ":8080" listens on every address, "127.0.0.1:0" on a free
  // loopback port (tests). Fails with the reason when the port cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address, std::shared_ptr<prometheus::Registry> registry);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int Port() const { return port_; }

  // Also serves `collectable`'s metrics (one that reads its figures at scrape time).
  void AddCollectable(std::shared_ptr<prometheus::Collectable> collectable);

  // /readyz answers 200 while ready, else 503 with `reason` as the body. Starts not ready.
  void SetReady(bool ready, const std::string& reason = "");

 private:
  explicit MetricsServer(std::shared_ptr<prometheus::Registry> registry);
  static int ServeMetrics(mg_connection* connection, void* self);
  static int ServeHealth(mg_connection* connection, void* self);
  static int ServeReadiness(mg_connection* connection, void* self);

  mg_context* context_ = nullptr;
  int port_ = 0;
  absl::Mutex mu_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_ ABSL_GUARDED_BY(mu_);
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  std::string not_ready_reason_ ABSL_GUARDED_BY(mu_) = "starting";
};

}  // namespace gpuop::common
