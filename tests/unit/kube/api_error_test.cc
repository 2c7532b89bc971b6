#include "kube/api_error.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/resource.h"

namespace gpuop::kube {
namespace {

std::string StatusBody(int code, const std::string& reason, const std::string& message) {
  return R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":")" + message +
         R"(","reason":")" + reason + R"(","code":)" + std::to_string(code) + "}";
}

struct Mapping {
  int http_code;
  std::string reason;
  absl::StatusCode code;
};

TEST(ApiError, MapsEachApiAnswerToAFittingCodeAndKeepsTheServersWords) {
  for (const Mapping& m : std::vector<Mapping>{
           {404, "NotFound", absl::StatusCode::kNotFound},
           {409, "AlreadyExists", absl::StatusCode::kAlreadyExists},
           {409, "Conflict", absl::StatusCode::kAborted},
           {410, "Expired", absl::StatusCode::kOutOfRange},
           {422, "Invalid", absl::StatusCode::kInvalidArgument},
           {429, "TooManyRequests", absl::StatusCode::kResourceExhausted},
           {401, "Unauthorized", absl::StatusCode::kUnauthenticated},
           {403, "Forbidden", absl::StatusCode::kPermissionDenied},
           {500, "InternalError", absl::StatusCode::kUnavailable},
           {503, "ServiceUnavailable", absl::StatusCode::kUnavailable},
           {504, "Timeout", absl::StatusCode::kDeadlineExceeded},
       }) {
    SCOPED_TRACE(m.http_code);
    const absl::Status status =
        ApiError(m.http_code, StatusBody(m.http_code, m.reason, "it went wrong"), "GET nodes/a");
    EXPECT_EQ(status.code(), m.code);
    EXPECT_EQ(HttpCodeOf(status), m.http_code);
    EXPECT_EQ(ReasonOf(status), m.reason);
    EXPECT_EQ(status.message(),
              "GET nodes/a: " + std::to_string(m.http_code) + " " + m.reason + ": it went wrong");
  }
}

TEST(ApiError, ConflictAndGoneHelpers) {
  EXPECT_TRUE(IsConflict(ApiError(409, StatusBody(409, "Conflict", "x"), "PUT")));
  EXPECT_TRUE(IsGone(ApiError(410, StatusBody(410, "Gone", "x"), "GET")));
  // A watch reports an expired resourceVersion inside a 200 stream: reason Expired, code 410.
  EXPECT_TRUE(IsGone(ApiError(410, StatusBody(410, "Expired", "too old"), "WATCH")));
  EXPECT_FALSE(IsConflict(absl::AbortedError("not from the API")));
  EXPECT_EQ(HttpCodeOf(absl::NotFoundError("local")), 0);
}

TEST(ApiError, ANonStatusBodyIsQuotedShort) {
  const absl::Status status = ApiError(502, "<html>" + std::string(500, 'x'), "GET /version");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ReasonOf(status), "");
  EXPECT_LT(status.message().size(), 260u);
}

TEST(ApiError, AStatusWithFieldsOfTheWrongTypeIsQuotedNotThrown) {
  // Found by the watch-event fuzzer: json::value() threw on a non-string "kind" and the
  // exception ended the process.
  for (const std::string body :
       {R"({"kind":{},"reason":"Expired","code":410})",
        R"({"kind":"Status","reason":7,"message":["too old"],"code":410})"}) {
    SCOPED_TRACE(body);
    const absl::Status status = ApiError(410, body, "watch");
    EXPECT_TRUE(IsGone(status));
    EXPECT_EQ(ReasonOf(status), "");
    EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr(body.substr(0, 20)));
  }
}

TEST(Resource, BuildsCoreGroupNamespacedAndSubresourcePaths) {
  EXPECT_EQ(resources::kNodes.Path(), "/api/v1/nodes");
  EXPECT_EQ(resources::kNodes.Path("ignored", "n1", "status"), "/api/v1/nodes/n1/status");
  EXPECT_EQ(resources::kDaemonSets.Path("gpu-operator"),
            "/apis/apps/v1/namespaces/gpu-operator/daemonsets");
  EXPECT_EQ(resources::kDaemonSets.Path(), "/apis/apps/v1/daemonsets");  // All namespaces.
  const Resource policies{"nvidia.com", "v1", "clusterpolicies", false};
  EXPECT_EQ(policies.Path("", "cluster-policy", "status"),
            "/apis/nvidia.com/v1/clusterpolicies/cluster-policy/status");
}

}  // namespace
}  // namespace gpuop::kube
