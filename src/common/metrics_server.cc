#include "common/metrics_server.h"

#include <civetweb.h>

#include <array>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "prometheus/text_serializer.h"

namespace gpuop::common {
namespace {

// civetweb wants "port" or "host:port"; we take Go's ":port" form too, as Kubernetes tools do.
std::string CivetListeningPorts(const std::string& address) {
  return absl::StartsWith(address, ":") ? address.substr(1) : address;
}

void Reply(mg_connection* connection, int code, const char* content_type, const std::string& body) {
  mg_printf(connection,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            code, mg_get_response_code_text(connection, code), content_type, body.size());
  mg_write(connection, body.data(), body.size());
}

}  // namespace

MetricsServer::MetricsServer(std::shared_ptr<prometheus::Registry> registry) {
  collectables_.push_back(std::move(registry));
}

void MetricsServer::AddCollectable(std::shared_ptr<prometheus::Collectable> collectable) {
  absl::MutexLock lock(&mu_);
  collectables_.push_back(std::move(collectable));
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry) {
  std::unique_ptr<MetricsServer> server(new MetricsServer(std::move(registry)));
  const std::string ports = CivetListeningPorts(address);
  // Few threads: scrapes and probes are rare and quick.
  const char* options[] = {"listening_ports",    ports.c_str(), "num_threads", "2",
                           "request_timeout_ms", "10000",       nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  mg_init_data init{&callbacks, nullptr, options};
  std::array<char, 256> error_text{};
  unsigned error_code = 0;
  mg_error_data error{&error_code, error_text.data(), error_text.size()};
  server->context_ = mg_start2(&init, &error);
  if (server->context_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("serve metrics on ", address, ": ",
                                               error_text[0] ? error_text.data() : "failed",
                                               " (is the port in use? set --metrics-address)"));
  }
  mg_set_request_handler(server->context_, "/metrics$", &MetricsServer::ServeMetrics, server.get());
  mg_set_request_handler(server->context_, "/healthz$", &MetricsServer::ServeHealth, server.get());
  mg_set_request_handler(server->context_, "/readyz$", &MetricsServer::ServeReadiness,
                         server.get());
  std::array<mg_server_port, 4> bound{};
  if (mg_get_server_ports(server->context_, bound.size(), bound.data()) > 0) {
    server->port_ = bound[0].port;
  }
  return server;
}

MetricsServer::~MetricsServer() {
  if (context_ != nullptr) mg_stop(context_);  // Joins civetweb's threads.
}

void MetricsServer::SetReady(bool ready, const std::string& reason) {
  absl::MutexLock lock(&mu_);
  ready_ = ready;
  not_ready_reason_ = reason;
}

int MetricsServer::ServeMetrics(mg_connection* connection, void* self) {
  auto* server = static_cast<MetricsServer*>(self);
  std::vector<prometheus::MetricFamily> families;
  {
    absl::MutexLock lock(&server->mu_);
    for (const auto& collectable : server->collectables_) {
      std::vector<prometheus::MetricFamily> more = collectable->Collect();
      families.insert(families.end(), std::make_move_iterator(more.begin()),
                      std::make_move_iterator(more.end()));
    }
  }
  const std::string body = prometheus::TextSerializer().Serialize(families);
  Reply(connection, 200, "text/plain; version=0.0.4; charset=utf-8", body);
  return 200;
}

int MetricsServer::ServeHealth(mg_connection* connection, void* /*self*/) {
  Reply(connection, 200, "text/plain; charset=utf-8", "ok\n");
  return 200;
}

int MetricsServer::ServeReadiness(mg_connection* connection, void* self) {
  auto* server = static_cast<MetricsServer*>(self);
  bool ready = false;
  std::string reason;
  {
    absl::MutexLock lock(&server->mu_);
    ready = server->ready_;
    reason = server->not_ready_reason_;
  }
  if (ready) {
    Reply(connection, 200, "text/plain; charset=utf-8", "ok\n");
    return 200;
  }
  Reply(connection, 503, "text/plain; charset=utf-8", absl::StrCat("not ready: ", reason, "\n"));
  return 503;
}

}  // namespace gpuop::common
