// The agents' /metrics, /healthz and /readyz endpoint, fetched over a real TCP socket.

#include "common/metrics_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "tests/fixtures/http_get.h"

namespace gpuop::common {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

using gpuop::testing::HttpGet;

TEST(MetricsServer, ServesTheRegistryInPrometheusTextFormat) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& binds = prometheus::BuildCounter()
                    .Name("gpuop_test_binds_total")
                    .Help("Binds attempted.")
                    .Register(*registry);
  binds.Add({{"result", "ok"}}).Increment(3);
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->Port(), 0);

  const std::string reply = HttpGet((*server)->Port(), "/metrics");
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(reply, HasSubstr("Content-Type: text/plain; version=0.0.4"));
  EXPECT_THAT(reply, HasSubstr("# TYPE gpuop_test_binds_total counter"));
  EXPECT_THAT(reply, HasSubstr("gpuop_test_binds_total{result=\"ok\"} 3"));

  // A later change shows in the next scrape.
  binds.Add({{"result", "ok"}}).Increment();
  EXPECT_THAT(HttpGet((*server)->Port(), "/metrics"),
              HasSubstr("gpuop_test_binds_total{result=\"ok\"} 4"));
}

TEST(MetricsServer, ReadyzSaysWhyUntilTheAgentIsReady) {
  auto server = MetricsServer::Start("127.0.0.1:0", std::make_shared<prometheus::Registry>());
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->Port();
  EXPECT_THAT(HttpGet(port, "/healthz"), StartsWith("HTTP/1.1 200"));

  std::string reply = HttpGet(port, "/readyz");
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(reply, HasSubstr("not ready: starting"));

  (*server)->SetReady(true);
  EXPECT_THAT(HttpGet(port, "/readyz"), StartsWith("HTTP/1.1 200"));

  (*server)->SetReady(false, "0000:65:00.0 is on nvidia, not vfio-pci");
  reply = HttpGet(port, "/readyz");
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(reply, HasSubstr("0000:65:00.0 is on nvidia, not vfio-pci"));
  EXPECT_THAT(HttpGet(port, "/healthz"), StartsWith("HTTP/1.1 200"));
}

TEST(MetricsServer, OtherPathsAreNotFound) {
  auto server = MetricsServer::Start("127.0.0.1:0", std::make_shared<prometheus::Registry>());
  ASSERT_TRUE(server.ok()) << server.status();
  // civetweb answers these itself, in the request's HTTP version.
  EXPECT_THAT(HttpGet((*server)->Port(), "/"), HasSubstr(" 404 Not Found\r\n"));
  EXPECT_THAT(HttpGet((*server)->Port(), "/metrics/extra"), HasSubstr(" 404 Not Found\r\n"));
}

TEST(MetricsServer, APortInUseIsAnErrorNamingTheAddress) {
  auto first = MetricsServer::Start("127.0.0.1:0", std::make_shared<prometheus::Registry>());
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->Port());
  auto second = MetricsServer::Start(taken, std::make_shared<prometheus::Registry>());
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(taken));
}

}  // namespace
}  // namespace gpuop::common
