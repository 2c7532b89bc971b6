#pragma once

// A Container Device Interface spec, the part of the format gpuop writes: a kind and devices whose
// container edits are device nodes (Container Device Interface spec 1.1.0,
// cncf-tags/container-device-interface SPEC.md and specs-go). Validation follows the upstream
// library's rules, so a spec we write is one containerd and the Kata shim accept.
//
//   Spec spec{.kind = "nvidia.com/pgpu", .devices = {{.name = "38", .device_nodes = {...}}}};
//   if (absl::Status valid = ValidateSpec(spec); valid.ok()) Write(RenderSpec(spec));

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace gpuop::cdi {

// 0.5.0: the first version that allows device names starting with a digit (IOMMU group "38"),
// and the newest that every consumer on a sandbox node reads (the Kata Go shim links v0.6.0,
// containerd 1.7 v0.8): the version table of CDI's SPEC.md, and the go.mod files of Kata's
// src/runtime and of containerd's release/1.7.
inline constexpr char kSpecVersion[] = "0.5.0";

struct DeviceNode {
  std::string path;       // In the container: "/dev/vfio/38".
  std::string host_path;  // Empty: the same as path.
  // "c" with the major and minor filled in makes the node fully specified, so the CDI library
  // need not stat it when it injects; empty leaves that to the library.
  std::string type;
  int64_t major = 0;
  int64_t minor = 0;
  std::string permissions;  // Empty: "rwm".

  bool operator==(const DeviceNode&) const = default;
};

struct Device {
  std::string name;  // "38": the kubelet device ID, as Kata joins the two.
  std::vector<DeviceNode> device_nodes;

  bool operator==(const Device&) const = default;
};

struct Spec {
  std::string cdi_version = kSpecVersion;
  std::string kind;  // "nvidia.com/pgpu"
  std::vector<Device> devices;

  bool operator==(const Spec&) const = default;
};

// OK when the upstream library would load the spec: a vendor/class kind, at least one device,
// unique valid names, every device with edits, absolute paths, and a cdiVersion no older than
// what the contents need. The error names the field.
absl::Status ValidateSpec(const Spec& spec);

// How every spec RenderSpec writes begins: a comment for a person who finds the file (the CDI
// library ignores it), and how gpuop tells its own specs in a spec directory from others'
// (the NVIDIA container toolkit's nvidia.com-gpu.yaml, an admin's).
inline constexpr char kSpecHeader[] =
    "# Written by gpuop device-plugin: one device per passthrough GPU, named by its kubelet\n"
    "# device ID. Rewritten whenever the GPUs change; edits are lost.\n---\n";

// The spec as YAML, in a stable order, so an unchanged spec renders to the same bytes.
std::string RenderSpec(const Spec& spec);

// "nvidia.com-pgpu.yaml": the upstream GenerateNameForSpec file name for a kind.
std::string SpecFileName(const std::string& kind);

}  // namespace gpuop::cdi
