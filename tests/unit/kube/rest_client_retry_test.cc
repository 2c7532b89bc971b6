// The REST client's waiting logic, on a FakeClock: Retry-After on 429/5xx (client-go's rules:
// retry only when the server says when, at most 10 times) and the re-read of a rotating
// ServiceAccount token file; and the timeout every call carries. The answers come from a scripted
// loopback server because the real API server cannot be made to send them on demand.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "common/clock.h"
#include "kube/api_error.h"
#include "kube/rest_client.h"
#include "tests/fixtures/test_files.h"
#include "tests/unit/kube/scripted_http_server.h"

namespace gpuop::kube {
namespace {

using ::gpuop::testing::ScriptedHttpServer;
using ::gpuop::testing::ScriptedResponse;

constexpr char kNode[] = R"({"kind":"Node","metadata":{"name":"n1"}})";
constexpr char kTooManyRequests[] =
    R"({"kind":"Status","status":"Failure","reason":"TooManyRequests","code":429})";

std::unique_ptr<RestClient> ClientFor(const ScriptedHttpServer& server, common::Clock& clock,
                                      RestConfig config = {}) {
  config.server = server.Url();
  auto client = RestClient::Create(std::move(config), clock);
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

TEST(RestClientRetry, WaitsAsRetryAfterSaysThenReturnsTheAnswer) {
  ScriptedHttpServer server;
  server.Script({{.status = 429, .headers = {{"Retry-After", "2"}}, .body = kTooManyRequests},
                 {.status = 503, .headers = {{"Retry-After", "1"}}, .body = "busy"},
                 {.status = 200, .headers = {}, .body = kNode}});
  common::FakeClock clock;
  const auto start = clock.Now();

  auto node = ClientFor(server, clock)->Get(resources::kNodes, "", "n1");

  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ((*node)["metadata"]["name"], "n1");
  EXPECT_EQ(server.Requests().size(), 3u);
  EXPECT_EQ(clock.Now() - start, std::chrono::seconds(3));
}

TEST(RestClientRetry, AnErrorWithoutRetryAfterIsReturnedAtOnce) {
  ScriptedHttpServer server;
  server.Script({{.status = 503, .headers = {}, .body = "down"}, {.status = 200, .body = kNode}});
  common::FakeClock clock;
  const auto start = clock.Now();

  auto node = ClientFor(server, clock)->Get(resources::kNodes, "", "n1");

  EXPECT_TRUE(absl::IsUnavailable(node.status())) << node.status();
  EXPECT_EQ(HttpCodeOf(node.status()), 503);
  EXPECT_EQ(server.Requests().size(), 1u);
  EXPECT_EQ(clock.Now(), start);
}

TEST(RestClientRetry, RetryAfterOnAClientErrorOtherThan429IsNotRetried) {
  ScriptedHttpServer server;
  server.Script({{.status = 409, .headers = {{"Retry-After", "1"}}, .body = "conflict"}});
  common::FakeClock clock;

  auto node = ClientFor(server, clock)->Get(resources::kNodes, "", "n1");

  EXPECT_EQ(HttpCodeOf(node.status()), 409);
  EXPECT_EQ(server.Requests().size(), 1u);
}

TEST(RestClientRetry, LongWaitsAreCappedAndRetriesEndAfterTen) {
  ScriptedHttpServer server;
  std::vector<ScriptedResponse> refusals(
      12, {.status = 429, .headers = {{"Retry-After", "3600"}}, .body = kTooManyRequests});
  server.Script(refusals);
  common::FakeClock clock;
  const auto start = clock.Now();

  auto node = ClientFor(server, clock)->Get(resources::kNodes, "", "n1");

  EXPECT_TRUE(absl::IsResourceExhausted(node.status())) << node.status();
  EXPECT_EQ(ReasonOf(node.status()), "TooManyRequests");
  EXPECT_EQ(server.Requests().size(), 11u);  // The first try and ten retries.
  EXPECT_EQ(clock.Now() - start, 10 * std::chrono::seconds(30));
}

TEST(RestClientTimeout, AServerThatNeverAnswersEndsTheCallAtItsTimeout) {
  // A listening socket nobody accepts on: the connection is made by the kernel's backlog, the
  // request is sent, and no answer ever comes.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  ASSERT_EQ(listen(listener, 4), 0);
  auto client =
      RestClient::Create({.server = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port))});
  ASSERT_TRUE(client.ok());

  const auto start = std::chrono::steady_clock::now();
  auto answer = (*client)->Do(
      {.path_and_query = "/api/v1/nodes/n1", .timeout = std::chrono::milliseconds(300)});
  const auto took = std::chrono::steady_clock::now() - start;

  EXPECT_TRUE(absl::IsDeadlineExceeded(answer.status())) << answer.status();
  // It waited (curl's timer may end a fraction early), rather than failing at once.
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::seconds(10));
  close(listener);
}

class TokenFile {
 public:
  TokenFile() : path_(testing::ScratchDir("token") + "/token") {}
  ~TokenFile() { std::filesystem::remove(path_); }
  void Write(const std::string& token) const { testing::WriteFile(path_, token + "\n"); }
  void Remove() const { std::filesystem::remove(path_); }
  std::string Path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(RestClientToken, ARotatedTokenFileIsReadAgainAfterAMinute) {
  ScriptedHttpServer server;
  server.Script(std::vector<ScriptedResponse>(5, {.status = 200, .body = kNode}));
  common::FakeClock clock;
  TokenFile token;
  token.Write("first");
  auto client = ClientFor(server, clock, {.token_file = token.Path()});

  ASSERT_TRUE(client->Get(resources::kNodes, "", "n1").ok());
  token.Write("second");
  clock.Advance(std::chrono::seconds(30));
  ASSERT_TRUE(client->Get(resources::kNodes, "", "n1").ok());  // Still within the minute.
  clock.Advance(std::chrono::seconds(31));
  ASSERT_TRUE(client->Get(resources::kNodes, "", "n1").ok());
  // Kubelet swaps the file by renaming; a read that finds it missing keeps the last token.
  token.Remove();
  clock.Advance(std::chrono::minutes(2));
  ASSERT_TRUE(client->Get(resources::kNodes, "", "n1").ok());

  std::vector<std::string> sent;
  for (const auto& request : server.Requests()) sent.push_back(request.Header("authorization"));
  EXPECT_THAT(sent, ::testing::ElementsAre("Bearer first", "Bearer first", "Bearer second",
                                           "Bearer second"));
}

TEST(RestClientToken, AMissingTokenFileAtTheStartIsUnauthenticatedAndSendsNothing) {
  ScriptedHttpServer server;
  common::FakeClock clock;
  TokenFile token;  // Never written.
  auto client = ClientFor(server, clock, {.token_file = token.Path()});

  auto node = client->Get(resources::kNodes, "", "n1");

  EXPECT_TRUE(absl::IsUnauthenticated(node.status())) << node.status();
  EXPECT_THAT(std::string(node.status().message()), ::testing::HasSubstr(token.Path()));
  EXPECT_TRUE(server.Requests().empty());
}

}  // namespace
}  // namespace gpuop::kube

namespace gpuop::kube {
namespace {

// Text bound for the API server can hold a host's or a remote party's bytes (a file quoted in an
// Event note): invalid UTF-8 goes as U+FFFD rather than ending the agent with an exception.
TEST(RestClientText, InvalidUtf8InAnObjectIsSentNotThrown) {
  ScriptedHttpServer server;
  server.Script({{.status = 201, .body = kNode}});
  common::FakeClock clock;
  const json node = {{"kind", "Node"},
                     {"metadata", {{"name", "n1"}, {"labels", {{"x", std::string("a\xff\xfe")}}}}}};
  auto created = ClientFor(server, clock)->Create(resources::kNodes, "", node);
  EXPECT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(server.Requests().size(), 1u);
}

TEST(RestClientText, AnErrorPageThatIsNotAStatusIsQuotedAsPrintableText) {
  ScriptedHttpServer server;
  server.Script({{.status = 502, .body = std::string("<html>\x01\x1b[31m\xff proxy</html>")}});
  common::FakeClock clock;
  auto node = ClientFor(server, clock)->Get(resources::kNodes, "", "n1");
  ASSERT_FALSE(node.ok());
  const std::string message(node.status().message());
  EXPECT_NE(message.find("proxy"), std::string::npos) << message;
  for (const char c : message) {
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "byte " << static_cast<int>(c) << " in " << message;
  }
}

}  // namespace
}  // namespace gpuop::kube
