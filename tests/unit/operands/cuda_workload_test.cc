// The cuda step's workload against a stand-in for the driver's libcuda.so.1
// (tests/fixtures/fake_libcuda.cc), loaded with dlopen as the workload loads the real one; the
// environment variables it reads pick the simulated GPUs.

#include "operands/validator/cuda_workload.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include "tests/fixtures/status_matchers.h"

namespace gpuop::operands {
namespace {

using ::testing::HasSubstr;
using testing::IsOkAndHolds;
using testing::StatusIs;

class CudaWorkloadTest : public ::testing::Test {
 protected:
  // The fake reads these at cuInit; each test sets what it needs (tests in one binary run one
  // after the other).
  void SetUp() override {
    ::unsetenv("FAKE_CUDA_DEVICE_COUNT");
    ::unsetenv("FAKE_CUDA_CORRUPT_DEVICE");
  }
  void TearDown() override { SetUp(); }

  CudaWorkloadOptions options_{.library = FAKE_LIBCUDA, .bytes = 64 * 1024};
};

TEST_F(CudaWorkloadTest, EveryGpuTakesTheRoundTrip) {
  ::setenv("FAKE_CUDA_DEVICE_COUNT", "4", 1);
  EXPECT_THAT(RunCudaWorkload(options_), IsOkAndHolds(4));
}

TEST_F(CudaWorkloadTest, NoDeviceIsAClearError) {
  ::setenv("FAKE_CUDA_DEVICE_COUNT", "0", 1);
  EXPECT_THAT(RunCudaWorkload(options_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("no CUDA device: cuInit: CUDA error 100 (no CUDA-capable device "
                                 "is detected)")));
}

TEST_F(CudaWorkloadTest, BytesThatComeBackChangedFailNamingTheGpu) {
  ::setenv("FAKE_CUDA_DEVICE_COUNT", "3", 1);
  ::setenv("FAKE_CUDA_CORRUPT_DEVICE", "2", 1);
  EXPECT_THAT(RunCudaWorkload(options_),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("GPU 2: byte 0 of 65536 read back")));
}

TEST_F(CudaWorkloadTest, ACudaErrorNamesTheCallAndCudasWords) {
  // Zero bytes: cuMemAlloc refuses them, as the real one does.
  options_.bytes = 0;
  EXPECT_THAT(RunCudaWorkload(options_),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("cuMemAlloc_v2 on GPU 0: CUDA error 1 (invalid argument)")));
}

TEST_F(CudaWorkloadTest, WithoutLibcudaItSaysTheRuntimeDidNotPutItThere) {
  options_.library = "/nonexistent/libcuda.so.1";
  EXPECT_THAT(
      RunCudaWorkload(options_),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("cannot load /nonexistent/libcuda.so.1: ")));
  EXPECT_THAT(RunCudaWorkload(options_).status().message(), HasSubstr("nvidia RuntimeClass"));
}

TEST_F(CudaWorkloadTest, ALibraryWithoutTheDriverApiIsRefused) {
  // libm loads, but it is no CUDA driver.
  options_.library = "libm.so.6";
  EXPECT_THAT(RunCudaWorkload(options_), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                  HasSubstr("libm.so.6 has no cuInit")));
}

}  // namespace
}  // namespace gpuop::operands
