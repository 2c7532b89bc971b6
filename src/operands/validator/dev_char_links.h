#pragma once

// The driver step's /dev/char/<major>:<minor> links to the NVIDIA character devices. runc and
// crun, under systemd's cgroup driver, find a container's device nodes by those links when they
// rewrite its device rules; a node without one loses its rule at the next `systemctl
// daemon-reload`, and the container its GPU (NVIDIA GPU Operator issue 430). udev makes the links
// only for nodes it created, which a driver container's are not.
//
// Which links, as NVIDIA's validator makes them ("create all possible", nvidia-container-toolkit
// v1.17, cmd/nvidia-ctk/system/create-dev-char-symlinks): the control devices (nvidiactl 255,
// nvidia-modeset 254 on the `nvidia` major, nvidia-uvm 0 and nvidia-uvm-tools 1 on `nvidia-uvm`),
// one nvidia<N> per NVIDIA GPU on the PCI bus (minor N), and the MIG capability devices
// (/dev/nvidia-caps/nvidia-cap<minor>) that /proc/driver/nvidia-caps/mig-minors lists for the
// config, the monitor and each GPU's instances. Majors come from /proc/devices. Every target is
// under the device root, as the host sees it: /dev/nvidia0, or /run/nvidia/driver/dev/nvidia0 for
// a driver container that keeps its own /dev.
//
// NVIDIA's also loads the modules and makes missing control nodes first; gpuop's does not (the
// driver step only runs this once nvidia-smi has worked, and the driver container makes its
// nodes).

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "host/host_root.h"

namespace gpuop::operands {

struct DevCharLink {
  std::string name;    // "195:0"
  std::string target;  // "/dev/nvidia0", a host path.

  bool operator==(const DevCharLink&) const = default;
};

// The majors of /proc/devices' "Character devices:" section whose name starts with "nvidia",
// by name ("nvidia", before driver 550 "nvidia-frontend"; "nvidia-uvm", "nvidia-caps", ...).
std::map<std::string, int> NvidiaCharMajors(std::string_view proc_devices);

// /proc/driver/nvidia-caps/mig-minors' "<cap> <minor>" lines ("config 1",
// "gpu0/gi1/ci0/access 22"), by cap.
std::map<std::string, int> MigMinors(std::string_view mig_minors);

// The links for `gpus` GPUs, from the two maps above, with targets under `dev_root`.
// FailedPrecondition when there are GPUs but no `nvidia` major (the module is not loaded).
absl::StatusOr<std::vector<DevCharLink>> PlanDevCharLinks(const std::map<std::string, int>& majors,
                                                          int gpus,
                                                          const std::map<std::string, int>& mig,
                                                          std::string_view dev_root);

// The same, read from the host: /proc/devices, the NVIDIA GPUs under /sys/bus/pci/devices and
// the MIG minors (absent when MIG was never used: none).
absl::StatusOr<std::vector<DevCharLink>> PlanDevCharLinksOnHost(const host::HostRoot& root,
                                                                std::string_view dev_root);

struct DevCharLinkResult {
  int created = 0;
  int existing = 0;                 // Names already there, left as they are.
  std::vector<std::string> failed;  // "<path>: <errno text>", one per link not made.
};

// Makes each link in `dev_char_dir` (the host's /dev/char as mounted here; made when missing). A
// name already there is left alone, whatever it points to: udev's own link for a node it made is
// right, and a link is never replaced under a running container. A link that cannot be made is
// reported, not fatal, as in NVIDIA's.
DevCharLinkResult CreateDevCharLinks(const std::vector<DevCharLink>& links,
                                     const std::string& dev_char_dir);

}  // namespace gpuop::operands
