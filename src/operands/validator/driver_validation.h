#pragma once

// The validator's driver step (NVIDIA GPU Operator v26.7, COMPONENT=driver in
// cmd/nvidia-validator/main.go): find the driver that works on this node and say where it is.
// The first init container of the validator pod, and the gate of every GPU agent after it.
//
//   1. driver-ready goes (nobody may read an old one while this looks).
//   2. A driver installed on the host: its nvidia-smi, run chrooted into the host's root. WSL2's
//      counts without a run (its driver is Windows').
//   3. Otherwise a driver container's: when the operator deploys one (operator_managed_driver),
//      first its .driver-ctr-ready; then nvidia-smi from the root it publishes, with that root's
//      NVML preloaded; then each extra module .driver-ctr-ready turns on (driver_features.h).
//   4. The /dev/char links (dev_char_links.h), unless turned off or on WSL2.
//   5. driver-ready, written atomically: five KEY=value lines that the toolkit, the device plugin
//      and the MIG manager source, so that each finds the driver wherever it is.
//
// Steps 2 and 3 are one attempt; with `with_wait` a failed attempt is tried again every
// `interval` until one works (the driver container may still be building its modules), else the
// first failure is the step's.
//
// Differs from NVIDIA's on purpose: whether the operator manages the driver is an input
// (OPERATOR_MANAGED_DRIVER, set by the operator, which knows) instead of a list of the DaemonSets
// and their owners, so the step needs no API access; and the feature ready files of an earlier
// run go at step 1 too, so that a feature turned off since leaves none behind.

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "api/paths.h"
#include "common/logger.h"
#include "common/stop_signal.h"
#include "host/host_root.h"
#include "operands/validator/dev_char_links.h"
#include "operands/validator/nvidia_smi.h"

namespace gpuop::operands {

// Where the consumers mount the driver's root, NVIDIA's DaemonSets' contract: the host's / at
// /host, a driver container's published root at /driver-root.
inline constexpr char kHostRootCtrPath[] = "/host";
inline constexpr char kDriverRootCtrPath[] = "/driver-root";
// Where the validator mounts the host's /dev/char.
inline constexpr char kHostDevCharCtrPath[] = "/host-dev-char";

// driver-ready's contents.
struct DriverRoots {
  bool is_host_driver = false;
  std::string driver_root;           // NVIDIA_DRIVER_ROOT, a host path.
  std::string driver_root_ctr_path;  // DRIVER_ROOT_CTR_PATH, where consumers mount it.
  std::string dev_root;              // NVIDIA_DEV_ROOT: whose /dev holds the device nodes.
  std::string dev_root_ctr_path;     // DEV_ROOT_CTR_PATH.

  bool operator==(const DriverRoots&) const = default;
};

// A driver installed on the host: everything is the host's /.
DriverRoots HostDriverRoots();
// A driver container's, published on the host at `driver_install_dir`. Its device nodes are in
// its own /dev when it keeps one (`has_own_dev`), else in the host's.
DriverRoots ContainerDriverRoots(const std::string& driver_install_dir, bool has_own_dev);
// The five lines, in NVIDIA's order, each "KEY=value\n".
std::string DriverReadyContents(const DriverRoots& roots);

struct DriverValidationOptions {
  std::string driver_install_dir = api::kDefaultDriverInstallDir;           // On the host.
  std::string driver_install_dir_ctr_path = api::kDefaultDriverInstallDir;  // Mounted here.
  std::string validations_dir = api::kValidationsDir;
  std::string dev_char_dir = kHostDevCharCtrPath;
  bool with_wait = false;
  bool operator_managed_driver = false;
  bool create_dev_char_links = true;
  std::chrono::milliseconds interval = std::chrono::seconds(5);
};

struct DriverValidation {
  DriverRoots roots;
  bool wsl = false;
  std::vector<std::string> feature_ready_files;  // Written beside driver-ready.
  bool links_made = false;                       // False when turned off, on WSL2, or no GPU.
  DevCharLinkResult links;
};

// The whole step; `host_root` is where the host's / is mounted here. The first attempt's error
// without `with_wait`; Cancelled when `stop` fires while waiting. A /dev/char link that cannot be
// made is in the result, not an error (the caller warns), as in NVIDIA's.
absl::StatusOr<DriverValidation> ValidateDriver(const host::HostRoot& host_root,
                                                const DriverValidationOptions& options,
                                                NvidiaSmiRunner& runner, common::Logger& log,
                                                const common::StopSignal& stop);

// Steps 2 and 3 once, writing nothing: whether a driver works here now (the node status
// exporter's periodic check). A driver container's counts without its .driver-ctr-ready and its
// extra modules, which are the validator pod's to prove.
absl::Status ProbeDriver(const host::HostRoot& host_root, const DriverValidationOptions& options,
                         NvidiaSmiRunner& runner);

}  // namespace gpuop::operands
