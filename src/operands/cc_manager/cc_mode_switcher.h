#pragma once

// Puts every confidential-computing device of the node into one mode. Setting a mode needs the
// GPU's FSP firmware RPC, so it is NVIDIA's gpu-admin-tools (MIT) that stages it and resets the
// GPU, one process per device, all devices at once (a reset takes ~1.8 s on an H100, and eight in a
// row would take eight times that); reading it back is ours (host/gpu_cc_mode.h), so a tool that
// says "done" for a GPU still in its old mode is caught. Order (as NVIDIA k8s-cc-manager v1.0.0's
// set_cc_mode and set_ppcie_mode have it): PPCIe off everywhere before a CC mode; CC off on every
// GPU before PPCIe, which takes all GPUs and NVSwitches.
//
//   SwitchReport report = SwitchMode(root, scan.devices, api::CcMode::kOn, tools);
//   if (!report.Ok()) ... report.FirstError() ...

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "api/cc_mode.h"
#include "host/host_root.h"
#include "host/pci_device.h"

namespace gpuop::operands {

struct GpuAdminTools {
  // How to run nvidia_gpu_tools.py; the device and mode arguments are appended.
  std::vector<std::string> command = {"python3", "/opt/gpu-admin-tools/nvidia_gpu_tools.py"};
  // One device's set, reset and boot.
  std::chrono::milliseconds timeout = std::chrono::seconds(120);
  // Our own read after the tool: how long boot-complete may take (the tool waits 5-10 s).
  std::chrono::milliseconds boot_timeout = std::chrono::seconds(10);
};

// The devices a mode applies to: CC-capable GPUs for on/off/devtools, and for ppcie every
// NVIDIA GPU and NVSwitch.
std::vector<host::PciDevice> DevicesFor(const std::vector<host::PciDevice>& devices,
                                        api::CcMode mode);

// Devices that cannot take the mode (a GPU without CC asked for on, an older GPU or switch
// asked for ppcie), each named with why; empty when the mode can be applied.
std::vector<std::string> UnsupportedFor(const std::vector<host::PciDevice>& devices,
                                        api::CcMode mode);

// DeviceSwitch's word for a mode our read could not get.
inline constexpr char kUnknownMode[] = "unknown";

struct DeviceSwitch {
  std::string address;
  std::string before;  // The mode read before (host::CcModeWord), or kUnknownMode.
  std::string after;   // Read after; equal to before when nothing was done.
  bool switched = false;
  std::string error;  // Empty on success: the tool's message, or our read's.
};

struct SwitchReport {
  std::vector<DeviceSwitch> devices;
  std::chrono::milliseconds duration{0};
  bool Ok() const;
  bool Switched() const;           // Some device was reset.
  std::string FirstError() const;  // "<address>: <error>", or empty.
};

// The mode of one device as a word (host::CcModeWord): "on", "off", "devtools", "ppcie" (PPCIe
// on), or the invalid state's; or the read's error.
absl::StatusOr<std::string> ReadModeWord(const host::HostRoot& root, const host::PciDevice& device,
                                         std::chrono::milliseconds boot_timeout);

// Brings DevicesFor(devices, mode) into `mode`. Devices already there are not touched (no
// reset); a device that fails does not stop the others.
SwitchReport SwitchMode(const host::HostRoot& root, const std::vector<host::PciDevice>& devices,
                        api::CcMode mode, const GpuAdminTools& tools);

}  // namespace gpuop::operands
