#include "common/status_macros.h"

#include <gtest/gtest.h>

#include <string>

namespace gpuop::common {
namespace {

absl::StatusOr<int> ParsePositive(int value) {
  if (value <= 0) return absl::InvalidArgumentError("not positive");
  return value;
}

absl::Status Check(int value) { return ParsePositive(value).status(); }

absl::StatusOr<std::string> Describe(int value) {
  GPUOP_RETURN_IF_ERROR(Check(value));
  GPUOP_ASSIGN_OR_RETURN(int parsed, ParsePositive(value));
  GPUOP_ASSIGN_OR_RETURN(int doubled, ParsePositive(parsed * 2));  // Two in one scope.
  return std::to_string(doubled);
}

TEST(StatusMacros, PassValuesThroughOnSuccess) {
  auto described = Describe(21);
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(*described, "42");
}

TEST(StatusMacros, ReturnTheFirstErrorUnchanged) {
  auto described = Describe(-1);
  EXPECT_EQ(described.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(described.status().message(), "not positive");
}

}  // namespace
}  // namespace gpuop::common
