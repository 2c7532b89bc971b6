// The validator's driver step on simulated trees: a driver container's published root and a
// host's / (tests/fixtures/simulated_driver_root.h), each with nvidia-smi's stand-in run for real
// through fork/exec, or a runner that answers in its place where the test needs to steer the
// host's probe. What driver-ready says, in which order the step looks, how it waits, and what it
// refuses to write.

#include "operands/validator/driver_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"

#include "common/subprocess.h"
#include "tests/fixtures/boot_for_test.h"
#include "tests/fixtures/simulated_driver_root.h"
#include "tests/fixtures/test_files.h"
#include "tests/fixtures/topologies.h"
#include "tests/fixtures/wait_for.h"

namespace gpuop::operands {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::IsOk;
using ::testing::SizeIs;
using ::testing::StartsWith;
using testing::StatusIs;

// Records every call and answers with `answer` (the real runner by default).
class RecordingRunner final : public NvidiaSmiRunner {
 public:
  using Answer = std::function<absl::Status(const NvidiaSmiCall&)>;
  explicit RecordingRunner(Answer answer = nullptr) : answer_(std::move(answer)) {}

  absl::Status Run(const NvidiaSmiCall& call) override {
    {
      absl::MutexLock lock(&mu_);
      calls_.push_back(call);
    }
    return answer_ ? answer_(call) : real_.Run(call);
  }
  // The calls whose root_dir is `root` ("" for those without a chroot).
  int CallsIn(const std::string& root) {
    absl::MutexLock lock(&mu_);
    int n = 0;
    for (const NvidiaSmiCall& call : calls_) n += call.root_dir == root ? 1 : 0;
    return n;
  }
  std::vector<NvidiaSmiCall> Calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  ProcessNvidiaSmiRunner real_;
  Answer answer_;
  absl::Mutex mu_;
  std::vector<NvidiaSmiCall> calls_ ABSL_GUARDED_BY(mu_);
};

constexpr char kContainerDriverReady[] =
    "IS_HOST_DRIVER=false\n"
    "NVIDIA_DRIVER_ROOT=/run/nvidia/driver\n"
    "DRIVER_ROOT_CTR_PATH=/driver-root\n"
    "NVIDIA_DEV_ROOT=/\n"
    "DEV_ROOT_CTR_PATH=/host\n";

constexpr char kHostDriverReady[] =
    "IS_HOST_DRIVER=true\n"
    "NVIDIA_DRIVER_ROOT=/\n"
    "DRIVER_ROOT_CTR_PATH=/host\n"
    "NVIDIA_DEV_ROOT=/\n"
    "DEV_ROOT_CTR_PATH=/host\n";

void WriteExecutable(const std::string& path, const std::string& text, int mode = 0755) {
  testing::WriteFile(path, text);
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

class DriverStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::ScratchDir("drvstep");
    host_ = dir_ + "/host";
    driver_ = dir_ + "/driver";
    validations_ = dir_ + "/validations";
    ASSERT_THAT(testing::MakeDirs(host_), IsOk());
    ASSERT_THAT(testing::MakeDirs(validations_), IsOk());
  }

  DriverValidationOptions Options() const {
    return {.driver_install_dir = "/run/nvidia/driver",
            .driver_install_dir_ctr_path = driver_,
            .validations_dir = validations_,
            .dev_char_dir = dir_ + "/dev-char",
            .create_dev_char_links = false,
            .interval = std::chrono::milliseconds(10)};
  }

  absl::StatusOr<DriverValidation> Validate(const DriverValidationOptions& options,
                                            NvidiaSmiRunner& runner) {
    return ValidateDriver(host::HostRoot(host_), options, runner, log_, stop_);
  }

  std::string Ready(const std::string& name) const {
    return testing::ReadWhole(validations_ + "/" + name);
  }
  bool Exists(const std::string& name) const {
    return std::filesystem::exists(validations_ + "/" + name);
  }

  std::string dir_, host_, driver_, validations_;
  std::ostringstream log_out_;
  common::Logger log_{log_out_, common::LogFormat::kText};
  common::StopSignal stop_;
};

TEST_F(DriverStepTest, AWorkingDriverContainerGivesItsRootsWithItsNvmlPreloaded) {
  ASSERT_THAT(testing::MakeSimulatedDriverRoot(driver_), IsOk());
  ASSERT_THAT(testing::SetNvidiaModuleLoaded(driver_, true), IsOk());
  RecordingRunner runner;
  absl::StatusOr<DriverValidation> result = Validate(Options(), runner);
  ASSERT_THAT(result, IsOk());
  EXPECT_FALSE(result->roots.is_host_driver);
  EXPECT_EQ(Ready("driver-ready"), kContainerDriverReady);
  // Run from the published root, with the versioned NVML the soname link points at preloaded.
  EXPECT_THAT(testing::NvidiaSmiCalls(driver_),
              ElementsAre(StartsWith(driver_ + "/bin/nvidia-smi LD_PRELOAD=" + driver_ +
                                     "/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15")));
}

TEST_F(DriverStepTest, ADriverContainerWithItsOwnDevIsTheDeviceRootToo) {
  ASSERT_THAT(testing::MakeSimulatedDriverRoot(driver_, "/usr/bin"), IsOk());
  ASSERT_THAT(testing::SetNvidiaModuleLoaded(driver_, true), IsOk());
  ASSERT_THAT(testing::MakeDirs(driver_ + "/dev"), IsOk());
  RecordingRunner runner;
  ASSERT_THAT(Validate(Options(), runner), IsOk());
  EXPECT_EQ(Ready("driver-ready"),
            "IS_HOST_DRIVER=false\n"
            "NVIDIA_DRIVER_ROOT=/run/nvidia/driver\n"
            "DRIVER_ROOT_CTR_PATH=/driver-root\n"
            "NVIDIA_DEV_ROOT=/run/nvidia/driver\n"
            "DEV_ROOT_CTR_PATH=/driver-root\n");
  EXPECT_THAT(testing::NvidiaSmiCalls(driver_), ElementsAre(StartsWith(driver_ + "/usr/bin/")));
}

TEST_F(DriverStepTest, WithoutTheModuleItFailsWithNvidiaSmisReasonAndTakesTheOldFileAway) {
  ASSERT_THAT(testing::MakeSimulatedDriverRoot(driver_), IsOk());
  testing::WriteFile(validations_ + "/driver-ready", "IS_HOST_DRIVER=false\n");
  RecordingRunner runner;
  EXPECT_THAT(Validate(Options(), runner),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("exited 9: NVIDIA-SMI has failed because it couldn't "
                                 "communicate with the NVIDIA driver")));
  EXPECT_FALSE(Exists("driver-ready"));
  EXPECT_THAT(testing::NvidiaSmiCalls(driver_), SizeIs(1));  // Without --with-wait: once.
}

TEST_F(DriverStepTest, WithWaitItTriesAgainUntilTheModuleIsLoaded) {
  ASSERT_THAT(testing::MakeSimulatedDriverRoot(driver_), IsOk());
  DriverValidationOptions options = Options();
  options.with_wait = true;
  RecordingRunner runner;
  absl::StatusOr<DriverValidation> result;
  std::thread step([&] { result = Validate(options, runner); });
  EXPECT_TRUE(testing::WaitFor([&] { return runner.CallsIn("") >= 3; }));
  EXPECT_FALSE(Exists("driver-ready"));
  ASSERT_THAT(testing::SetNvidiaModuleLoaded(driver_, true), IsOk());
  step.join();
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(Ready("driver-ready"), kContainerDriverReady);
  EXPECT_THAT(log_out_.str(), HasSubstr("no working driver yet"));
}

TEST_F(DriverStepTest, WithWaitAStopEndsTheWait) {
  DriverValidationOptions options = Options();
  options.with_wait = true;
  RecordingRunner runner;
  stop_.Stop();
  EXPECT_THAT(Validate(options, runner), StatusIs(absl::StatusCode::kCancelled, HasSubstr("")));
  EXPECT_FALSE(Exists("driver-ready"));
}

// The host's nvidia-smi fails (a copy a driver container left behind), so every attempt probes
// the host first: the attempts can be counted without running the container's.
TEST_F(DriverStepTest, AnOperatorManagedDriverIsNotRunBeforeItsContainerSaysItIsReady) {
  ASSERT_THAT(testing::MakeSimulatedDriverRoot(driver_), IsOk());
  ASSERT_THAT(testing::SetNvidiaModuleLoaded(driver_, true), IsOk());
  WriteExecutable(host_ + "/usr/bin/nvidia-smi", "left behind");
  DriverValidationOptions options = Options();
  options.with_wait = true;
  options.operator_managed_driver = true;
  RecordingRunner runner([&](const NvidiaSmiCall& call) {
    return call.root_dir == host_ ? absl::FailedPreconditionError("exited 9") : absl::OkStatus();
  });
  absl::StatusOr<DriverValidation> result;
  std::thread step([&] { result = Validate(options, runner); });
  EXPECT_TRUE(testing::WaitFor([&] { return runner.CallsIn(host_) >= 3; }));
  EXPECT_EQ(runner.CallsIn(""), 0);
  testing::WriteFile(
      validations_ + "/.driver-ctr-ready",
      "GDRCOPY_ENABLED: false\nGDS_ENABLED: false\nGPU_DIRECT_RDMA_ENABLED: false\n");
  step.join();
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(runner.CallsIn(""), 1);
  EXPECT_EQ(Ready("driver-ready"), kContainerDriverReady);
  EXPECT_THAT(log_out_.str(), HasSubstr("the driver container is not ready yet"));
}

TEST_F(DriverStepTest, EachExtraModuleTheDriverContainerTurnedOnMustBeLoaded) {
  ASSERT_THAT(testing::MakeSimulatedDriverRoot(driver_), IsOk());
  ASSERT_THAT(testing::SetNvidiaModuleLoaded(driver_, true), IsOk());
  testing::WriteFile(validations_ + "/.driver-ctr-ready",
                     "GDRCOPY_ENABLED: true\nGDS_ENABLED: false\nGPU_DIRECT_RDMA_ENABLED: true\n");
  // From an earlier run where GDS was on: it must not outlive this one.
  testing::WriteFile(validations_ + "/nvidia-fs-ready", "");
  testing::WriteFile(host_ + "/proc/modules",
                     "gdrdrv 24576 0 - Live 0xffffffffc1a00000 (OE)\n"
                     "nvidia_peermem_extra 16384 0 - Live 0xffffffffc1b00000 (OE)\n");
  DriverValidationOptions options = Options();
  options.operator_managed_driver = true;
  RecordingRunner runner;
  EXPECT_THAT(Validate(options, runner),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("module nvidia_peermem is not loaded")));
  EXPECT_FALSE(Exists("driver-ready"));
  EXPECT_FALSE(Exists("nvidia-fs-ready"));

  testing::WriteFile(host_ + "/proc/modules",
                     "nvidia_peermem 16384 0 - Live 0xffffffffc1b00000 (OE)\n"
                     "gdrdrv 24576 0 - Live 0xffffffffc1a00000 (OE)\n");
  absl::StatusOr<DriverValidation> result = Validate(options, runner);
  ASSERT_THAT(result, IsOk());
  EXPECT_THAT(result->feature_ready_files,
              ElementsAre(validations_ + "/gdrcopy-ready", validations_ + "/nvidia-peermem-ready"));
  EXPECT_TRUE(Exists("gdrcopy-ready"));
  EXPECT_TRUE(Exists("nvidia-peermem-ready"));
  EXPECT_FALSE(Exists("nvidia-fs-ready"));
  EXPECT_EQ(Ready("driver-ready"), kContainerDriverReady);
}

TEST_F(DriverStepTest, AHostDriverIsProbedChrootedIntoTheHostAndFoundThroughItsLinks) {
  // Debian's alternatives: absolute links that mean the host's /etc and /usr, not ours.
  WriteExecutable(host_ + "/usr/lib/nvidia/current/nvidia-smi", "#!/bin/sh\n");
  ASSERT_THAT(testing::MakeDirs(host_ + "/etc/alternatives"), IsOk());
  std::filesystem::create_symlink("/usr/lib/nvidia/current/nvidia-smi",
                                  host_ + "/etc/alternatives/nvidia-smi");
  ASSERT_THAT(testing::MakeDirs(host_ + "/usr/bin"), IsOk());
  std::filesystem::create_symlink("/etc/alternatives/nvidia-smi", host_ + "/usr/bin/nvidia-smi");
  RecordingRunner runner([](const NvidiaSmiCall&) { return absl::OkStatus(); });
  absl::StatusOr<DriverValidation> result = Validate(Options(), runner);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->roots, HostDriverRoots());
  EXPECT_EQ(Ready("driver-ready"), kHostDriverReady);
  ASSERT_THAT(runner.Calls(), SizeIs(1));
  EXPECT_EQ(runner.Calls()[0].program, "/usr/lib/nvidia/current/nvidia-smi");
  EXPECT_EQ(runner.Calls()[0].root_dir, host_);
  EXPECT_EQ(runner.Calls()[0].ld_preload, "");
}

TEST_F(DriverStepTest, AnEmptyOrNonExecutableHostNvidiaSmiIsNoDriver) {
  WriteExecutable(host_ + "/usr/bin/nvidia-smi", "");
  WriteExecutable(host_ + "/sbin/nvidia-smi", "#!/bin/sh\n", 0644);
  RecordingRunner runner([](const NvidiaSmiCall&) { return absl::OkStatus(); });
  EXPECT_THAT(Validate(Options(), runner),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no nvidia-smi in the driver")));
  EXPECT_THAT(runner.Calls(), IsEmpty());
}

TEST_F(DriverStepTest, WslsDriverCountsWithoutARunAndGetsNoDevCharLinks) {
  testing::WriteFile(host_ + "/usr/lib/wsl/lib/nvidia-smi", "MZ");
  DriverValidationOptions options = Options();
  options.create_dev_char_links = true;
  RecordingRunner runner;
  absl::StatusOr<DriverValidation> result = Validate(options, runner);
  ASSERT_THAT(result, IsOk());
  EXPECT_TRUE(result->wsl);
  EXPECT_FALSE(result->links_made);
  EXPECT_THAT(runner.Calls(), IsEmpty());
  EXPECT_EQ(Ready("driver-ready"), kHostDriverReady);
  EXPECT_FALSE(std::filesystem::exists(options.dev_char_dir));
}

TEST_F(DriverStepTest, TheLinksGoToTheHostsDevCharAndPointIntoTheDeviceRoot) {
  auto kernel = testing::BootOrFail(testing::SingleH100Pcie());
  ASSERT_NE(kernel, nullptr);
  testing::WriteFile(kernel->HostPath("/proc/devices"),
                     "Character devices:\n  1 mem\n195 nvidia\n508 nvidia-caps\n510 nvidia-uvm\n"
                     "\nBlock devices:\n  8 sd\n");
  ASSERT_THAT(testing::MakeSimulatedDriverRoot(driver_), IsOk());
  ASSERT_THAT(testing::MakeDirs(driver_ + "/dev"), IsOk());
  DriverValidationOptions options = Options();
  options.create_dev_char_links = true;
  RecordingRunner runner([](const NvidiaSmiCall&) { return absl::OkStatus(); });
  absl::StatusOr<DriverValidation> result =
      ValidateDriver(host::HostRoot(kernel->Root()), options, runner, log_, stop_);
  ASSERT_THAT(result, IsOk());
  EXPECT_TRUE(result->links_made);
  EXPECT_EQ(result->links.created, 5);
  const auto target = [&](const std::string& name) {
    std::error_code error;
    return std::filesystem::read_symlink(options.dev_char_dir + "/" + name, error).string();
  };
  EXPECT_EQ(target("195:0"), "/run/nvidia/driver/dev/nvidia0");
  EXPECT_EQ(target("195:255"), "/run/nvidia/driver/dev/nvidiactl");
  EXPECT_EQ(target("195:254"), "/run/nvidia/driver/dev/nvidia-modeset");
  EXPECT_EQ(target("510:0"), "/run/nvidia/driver/dev/nvidia-uvm");
  EXPECT_EQ(target("510:1"), "/run/nvidia/driver/dev/nvidia-uvm-tools");

  // Turned off: none, and driver-ready all the same.
  ASSERT_THAT(testing::RemoveAll(options.dev_char_dir), IsOk());
  options.create_dev_char_links = false;
  ASSERT_THAT(ValidateDriver(host::HostRoot(kernel->Root()), options, runner, log_, stop_), IsOk());
  EXPECT_FALSE(std::filesystem::exists(options.dev_char_dir));
  EXPECT_TRUE(Exists("driver-ready"));
}

TEST_F(DriverStepTest, LinksThatCannotBePlannedFailTheStepAndSayHowToTurnThemOff) {
  auto kernel = testing::BootOrFail(testing::SingleH100Pcie());
  ASSERT_NE(kernel, nullptr);
  testing::WriteFile(kernel->HostPath("/proc/devices"), "Character devices:\n  1 mem\n");
  WriteExecutable(kernel->HostPath("/usr/bin/nvidia-smi"), "#!/bin/sh\n");
  DriverValidationOptions options = Options();
  options.create_dev_char_links = true;
  RecordingRunner runner([](const NvidiaSmiCall&) { return absl::OkStatus(); });
  EXPECT_THAT(ValidateDriver(host::HostRoot(kernel->Root()), options, runner, log_, stop_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("DISABLE_DEV_CHAR_SYMLINK_CREATION=true")));
  EXPECT_FALSE(Exists("driver-ready"));
}

// The real chroot: a host tree holding /bin/sh and the libraries it loads, and nvidia-smi's
// stand-in in /usr/bin. Only root may chroot.
TEST_F(DriverStepTest, AHostDriverRunsChrootedIntoTheHostForReal) {
  if (::geteuid() != 0) GTEST_SKIP() << "chroot needs root";
  absl::StatusOr<common::ProcessResult> ldd = common::RunProcess({"ldd", "/bin/sh"});
  ASSERT_THAT(ldd, IsOk());
  std::vector<std::string> files = {"/bin/sh"};
  for (absl::string_view line : absl::StrSplit(ldd->out, '\n')) {
    // "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)", "\t/lib64/ld-linux-x86-64.so.2
    // (...)"
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    for (absl::string_view word : words) {
      word = absl::StripLeadingAsciiWhitespace(word);
      if (absl::StartsWith(word, "/")) {
        files.emplace_back(word);
        break;
      }
    }
  }
  for (const std::string& file : files) {
    ASSERT_THAT(testing::MakeDirs(std::filesystem::path(host_ + file).parent_path().string()),
                IsOk());
    std::filesystem::copy_file(file, host_ + file);  // The link's target, as the loader needs.
    ASSERT_EQ(::chmod((host_ + file).c_str(), 0755), 0) << file;
  }
  ASSERT_THAT(testing::MakeSimulatedDriverRoot(host_, "/usr/bin"), IsOk());
  ASSERT_THAT(testing::SetNvidiaModuleLoaded(host_, true), IsOk());
  ProcessNvidiaSmiRunner runner;
  absl::StatusOr<DriverValidation> result = Validate(Options(), runner);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(Ready("driver-ready"), kHostDriverReady);
  // It ran as the host runs it: its own /usr/bin/nvidia-smi, nothing preloaded.
  EXPECT_THAT(testing::NvidiaSmiCalls(host_), ElementsAre(StartsWith("/usr/bin/nvidia-smi ")));
}

TEST(DriverRoots, DriverReadyIsTheFiveLinesInNvidiasOrder) {
  EXPECT_EQ(DriverReadyContents(ContainerDriverRoots("/opt/driver", false)),
            "IS_HOST_DRIVER=false\nNVIDIA_DRIVER_ROOT=/opt/driver\nDRIVER_ROOT_CTR_PATH="
            "/driver-root\nNVIDIA_DEV_ROOT=/\nDEV_ROOT_CTR_PATH=/host\n");
  EXPECT_EQ(DriverReadyContents(HostDriverRoots()), kHostDriverReady);
}

}  // namespace
}  // namespace gpuop::operands
