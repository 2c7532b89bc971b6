#pragma once

// Kubernetes API errors as absl::Status values that keep what the server said: the HTTP code,
// the Status reason (NotFound, AlreadyExists, Conflict, Expired, ...) and its message. The
// canonical code is chosen to fit (404 -> NotFound, 409 Conflict -> Aborted, 409 AlreadyExists
// -> AlreadyExists, 410 -> OutOfRange, 422 -> InvalidArgument, 429 -> ResourceExhausted, 5xx ->
// Unavailable), so callers can branch with absl::IsNotFound or with the helpers below.

#include <string>

#include "absl/status/status.h"

namespace gpuop::kube {

// Builds the Status for a non-2xx response from `body` (a metav1.Status when the server sent
// one; anything else is quoted). `what` says which call failed, e.g. "GET nodes/n1".
absl::Status ApiError(long http_code, const std::string& body, const std::string& what);

// 0 when the Status did not come from an API response.
int HttpCodeOf(const absl::Status& status);
// The metav1.Status reason ("Conflict", "Expired", ...), or empty.
std::string ReasonOf(const absl::Status& status);

inline bool IsConflict(const absl::Status& status) { return HttpCodeOf(status) == 409; }
// The resourceVersion asked for is too old: relist (410 Gone, or reason Expired).
inline bool IsGone(const absl::Status& status) {
  return HttpCodeOf(status) == 410 || ReasonOf(status) == "Expired";
}

}  // namespace gpuop::kube
