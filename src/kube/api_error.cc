#include "kube/api_error.h"

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include <nlohmann/json.hpp>

#include "common/printable.h"
#include "kube/json_fields.h"

namespace gpuop::kube {
namespace {

// Payload keys under which the API's own words travel with the Status.
constexpr char kHttpCodeKey[] = "gpuop.kube/http-code";
constexpr char kReasonKey[] = "gpuop.kube/reason";

absl::StatusCode CodeFor(long http_code, const std::string& reason) {
  switch (http_code) {
    case 400:
    case 415:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return reason == "AlreadyExists" ? absl::StatusCode::kAlreadyExists
                                       : absl::StatusCode::kAborted;
    case 410:
      return absl::StatusCode::kOutOfRange;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 504:
      return absl::StatusCode::kDeadlineExceeded;
    default:
      if (http_code >= 500) return absl::StatusCode::kUnavailable;
      return absl::StatusCode::kUnknown;
  }
}

}  // namespace

absl::Status ApiError(long http_code, const std::string& body, const std::string& what) {
  std::string reason;
  std::string message;
  const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && StringField(parsed, "kind") == "Status") {
    reason = StringField(parsed, "reason");
    message = StringField(parsed, "message");
  }
  if (message.empty()) {
    // Not a metav1.Status (a proxy's HTML page, say): quote the start of it.
    message = common::Printable(body, 200);
  }
  absl::Status status(
      CodeFor(http_code, reason),
      absl::StrCat(what, ": ", http_code, reason.empty() ? "" : " ", reason, ": ", message));
  status.SetPayload(kHttpCodeKey, absl::Cord(absl::StrCat(http_code)));
  if (!reason.empty()) status.SetPayload(kReasonKey, absl::Cord(reason));
  return status;
}

int HttpCodeOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kHttpCodeKey);
  int code = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &code)) return 0;
  return code;
}

std::string ReasonOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kReasonKey);
  return payload.has_value() ? std::string(*payload) : std::string();
}

}  // namespace gpuop::kube
