#pragma once

// The two status macros Debian's abseil 20220623 lacks (upstream added them to
// absl/status/status_macros.h later). Named GPUOP_ so that moving to abseil's is a rename.
//
//   GPUOP_RETURN_IF_ERROR(WriteFile(path, text));
//   GPUOP_ASSIGN_OR_RETURN(std::string text, ReadFile(path));

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define GPUOP_RETURN_IF_ERROR(expr)                                 \
  do {                                                              \
    if (absl::Status gpuop_status_ = (expr); !gpuop_status_.ok()) { \
      return gpuop_status_;                                         \
    }                                                               \
  } while (false)

#define GPUOP_STATUS_CONCAT_INNER_(a, b) a##b
#define GPUOP_STATUS_CONCAT_(a, b) GPUOP_STATUS_CONCAT_INNER_(a, b)

#define GPUOP_ASSIGN_OR_RETURN(lhs, rexpr) \
  GPUOP_ASSIGN_OR_RETURN_IMPL_(GPUOP_STATUS_CONCAT_(gpuop_statusor_, __LINE__), lhs, rexpr)

#define GPUOP_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()
