#include "operands/validator/driver_validation.h"

#include <filesystem>
#include <optional>
#include <set>
#include <system_error>

#include "absl/strings/str_cat.h"

#include "common/atomic_file.h"
#include "common/files.h"
#include "common/log_throttle.h"
#include "common/status_macros.h"
#include "operands/validator/driver_features.h"

namespace gpuop::operands {
namespace {

// One attempt's finding: which driver works, before the links and the ready file.
struct FoundDriver {
  DriverRoots roots;
  bool wsl = false;
  std::vector<std::string> feature_ready_files;
};

// Step 2: a driver on the host; NotFound to look for a container's. A host nvidia-smi that
// exists but fails is no verdict either: a driver container may have left a copy behind, and
// NVIDIA's goes on to the container's too. Its failure is then the status, for the message.
absl::StatusOr<FoundDriver> FindHostDriver(const host::HostRoot& host_root,
                                           NvidiaSmiRunner& runner) {
  if (FindFileIn(host_root, kNvidiaSmi, kWslLibDir, /*executable=*/false).has_value()) {
    return FoundDriver{.roots = HostDriverRoots(), .wsl = true};
  }
  const std::optional<std::string> smi =
      FindFileIn(host_root, kNvidiaSmi, kHostNvidiaSmiDirs, /*executable=*/true);
  if (!smi.has_value()) return absl::NotFoundError("");
  // Root() is empty when the host's / is ours: no chroot then.
  GPUOP_RETURN_IF_ERROR(runner.Run({.program = *smi, .root_dir = host_root.Root()}));
  return FoundDriver{.roots = HostDriverRoots()};
}

// Step 3: the driver container's, with its extra modules when the operator deployed it.
absl::StatusOr<FoundDriver> FindContainerDriver(const host::HostRoot& host_root,
                                                const DriverValidationOptions& options,
                                                NvidiaSmiRunner& runner) {
  const std::string ctr_ready =
      absl::StrCat(options.validations_dir, "/", api::kDriverCtrReadyFile);
  if (options.operator_managed_driver && !std::filesystem::exists(ctr_ready)) {
    return absl::UnavailableError(
        absl::StrCat("the driver container is not ready yet (no ", ctr_ready, ")"));
  }
  const host::HostRoot driver_root(options.driver_install_dir_ctr_path);
  const std::optional<std::string> smi =
      FindFileIn(driver_root, kNvidiaSmi, kDriverRootNvidiaSmiDirs, /*executable=*/true);
  if (!smi.has_value()) {
    return absl::NotFoundError(absl::StrCat(
        "no driver on the host and no nvidia-smi in the driver container's root ",
        options.driver_install_dir_ctr_path, " (/, /usr/bin, /usr/sbin, /bin, /sbin)"));
  }
  const std::optional<std::string> nvml =
      FindFileIn(driver_root, kNvml, kDriverRootNvmlDirs, /*executable=*/false);
  if (!nvml.has_value()) {
    return absl::NotFoundError(absl::StrCat("no ", kNvml, " in the driver container's root ",
                                            options.driver_install_dir_ctr_path));
  }
  GPUOP_RETURN_IF_ERROR(
      runner.Run({.program = driver_root.Path(*smi), .ld_preload = driver_root.Path(*nvml)}));
  FoundDriver found;
  if (options.operator_managed_driver) {
    GPUOP_ASSIGN_OR_RETURN(const std::string text, common::ReadFile(ctr_ready));
    GPUOP_ASSIGN_OR_RETURN(const std::set<std::string> enabled, EnabledDriverFeatures(text));
    GPUOP_ASSIGN_OR_RETURN(found.feature_ready_files,
                           ValidateDriverFeatures(enabled, host_root, options.validations_dir));
  }
  std::error_code ignored;
  found.roots = ContainerDriverRoots(
      options.driver_install_dir,
      std::filesystem::is_directory(options.driver_install_dir_ctr_path + "/dev", ignored));
  return found;
}

absl::StatusOr<FoundDriver> TryOnce(const host::HostRoot& host_root,
                                    const DriverValidationOptions& options,
                                    NvidiaSmiRunner& runner) {
  absl::StatusOr<FoundDriver> host = FindHostDriver(host_root, runner);
  if (host.ok()) return host;
  absl::StatusOr<FoundDriver> container = FindContainerDriver(host_root, options, runner);
  if (container.ok() || host.status().message().empty()) return container;
  return absl::Status(container.status().code(),
                      absl::StrCat(container.status().message(),
                                   "; the host's nvidia-smi fails too: ", host.status().message()));
}

}  // namespace

DriverRoots HostDriverRoots() {
  return {.is_host_driver = true,
          .driver_root = "/",
          .driver_root_ctr_path = kHostRootCtrPath,
          .dev_root = "/",
          .dev_root_ctr_path = kHostRootCtrPath};
}

DriverRoots ContainerDriverRoots(const std::string& driver_install_dir, bool has_own_dev) {
  return {.is_host_driver = false,
          .driver_root = driver_install_dir,
          .driver_root_ctr_path = kDriverRootCtrPath,
          .dev_root = has_own_dev ? driver_install_dir : "/",
          .dev_root_ctr_path = has_own_dev ? kDriverRootCtrPath : kHostRootCtrPath};
}

std::string DriverReadyContents(const DriverRoots& roots) {
  return absl::StrCat("IS_HOST_DRIVER=", roots.is_host_driver ? "true" : "false", "\n",
                      "NVIDIA_DRIVER_ROOT=", roots.driver_root, "\n",
                      "DRIVER_ROOT_CTR_PATH=", roots.driver_root_ctr_path, "\n",
                      "NVIDIA_DEV_ROOT=", roots.dev_root, "\n",
                      "DEV_ROOT_CTR_PATH=", roots.dev_root_ctr_path, "\n");
}

absl::Status ProbeDriver(const host::HostRoot& host_root, const DriverValidationOptions& options,
                         NvidiaSmiRunner& runner) {
  DriverValidationOptions looking = options;
  looking.operator_managed_driver = false;  // Its branch reads and writes the feature files.
  return TryOnce(host_root, looking, runner).status();
}

absl::StatusOr<DriverValidation> ValidateDriver(const host::HostRoot& host_root,
                                                const DriverValidationOptions& options,
                                                NvidiaSmiRunner& runner, common::Logger& log,
                                                const common::StopSignal& stop) {
  const std::string dir = options.validations_dir + "/";
  std::error_code error;
  for (const char* stale : {api::kDriverReadyFile, api::kNvidiaFsReadyFile, api::kGdrcopyReadyFile,
                            api::kNvidiaPeermemReadyFile}) {
    if (!std::filesystem::remove(dir + stale, error) && error) {
      return absl::ErrnoToStatus(error.value(), absl::StrCat("remove ", dir, stale));
    }
  }

  absl::StatusOr<FoundDriver> found = TryOnce(host_root, options, runner);
  // A driver container takes minutes to build its modules: say so at once, then once a minute,
  // and at once again whenever the reason changes.
  common::LogThrottle throttle(std::chrono::minutes(1));
  std::string last_reason;
  int attempts = 1;
  while (!found.ok() && options.with_wait) {
    const std::string reason(found.status().message());
    if (throttle.Failed() > 0 || reason != last_reason) {
      log.Warn("no working driver yet; trying again",
               {{"error", reason}, {"attempts", absl::StrCat(attempts)}});
      last_reason = reason;
    }
    ++attempts;
    if (stop.SleepFor(options.interval)) {
      return absl::CancelledError(absl::StrCat("stopped while waiting for a driver: ", reason));
    }
    found = TryOnce(host_root, options, runner);
  }
  if (!found.ok()) return found.status();

  DriverValidation result{
      .roots = found->roots, .wsl = found->wsl, .feature_ready_files = found->feature_ready_files};
  if (options.create_dev_char_links && !found->wsl) {
    absl::StatusOr<std::vector<DevCharLink>> links =
        PlanDevCharLinksOnHost(host_root, found->roots.dev_root);
    if (!links.ok()) {
      return absl::Status(
          links.status().code(),
          absl::StrCat(
              "cannot make the /dev/char links to the NVIDIA devices: ", links.status().message(),
              " (set DISABLE_DEV_CHAR_SYMLINK_CREATION=true in the ClusterPolicy's "
              "validator.driver.env to go without them)"));
    }
    result.links = CreateDevCharLinks(*links, options.dev_char_dir);
    result.links_made = !links->empty();
  }
  GPUOP_RETURN_IF_ERROR(common::WriteFileAtomicallyCreatingFolders(
      dir + api::kDriverReadyFile, DriverReadyContents(found->roots)));
  return result;
}

}  // namespace gpuop::operands
