// `gpuop validator <component>`: the validator's steps, run as init containers that order the
// node agents. Only the vfio-pci step exists so far.

#include <iostream>

#include "absl/strings/str_cat.h"

#include "api/labels.h"
#include "api/paths.h"
#include "cli/dispatcher.h"
#include "cli/flag_parser.h"
#include "cli/subcommands.h"
#include "kube/json_fields.h"
#include "kube/rest_client.h"
#include "operands/validator/vfio_validation.h"

namespace gpuop::cli {
namespace {

constexpr char kSummary[] =
    "Steps: vfio-pci. Writes workload-type, then for vm-passthrough checks that every NVIDIA GPU\n"
    "is on vfio-pci with a usable IOMMU group and writes vfio-pci-ready. Exits non-zero with a\n"
    "one-line reason otherwise.";

// The node's nvidia.com/gpu.workload.config label, "" when it has none; an error when the API
// cannot be asked (the step must not guess while the label may say otherwise).
absl::StatusOr<std::string> WorkloadLabel(const std::string& node_name,
                                          const std::string& kubeconfig) {
  absl::StatusOr<std::unique_ptr<kube::RestClient>> client =
      kube::ConnectToApiServer({.kubeconfig = kubeconfig});
  if (!client.ok()) return client.status();
  absl::StatusOr<kube::json> node = (*client)->Get(kube::resources::kNodes, "", node_name);
  if (!node.ok()) return node.status();
  return kube::StringField(kube::ObjectField(kube::ObjectField(*node, "metadata"), "labels"),
                           api::kWorkloadConfigLabel);
}

int RunValidator(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? err : out) << "usage: gpuop validator vfio-pci [flags]\n" << kSummary << "\n";
    return args.empty() ? kExitUsage : 0;
  }
  if (args[0] != "vfio-pci") {
    err << "validator: unknown step \"" << args[0] << "\" (steps: vfio-pci)\n";
    return kExitUsage;
  }
  std::string host_root = EnvOr("HOST_ROOT", "/");
  std::string workload;
  std::string default_workload = EnvOr("DEFAULT_GPU_WORKLOAD_CONFIG", api::kWorkloadContainer);
  std::string node_name = EnvOr("NODE_NAME", "");
  std::string kubeconfig;
  std::string validations_dir = api::kValidationsDir;
  FlagParser flags("validator vfio-pci");
  flags.String("host-root", &host_root, "where the host's / is mounted ($HOST_ROOT)");
  flags.String("workload", &workload, "the node's workload; default: its label, via the API");
  flags.String("default-workload", &default_workload,
               "when the node has no workload label ($DEFAULT_GPU_WORKLOAD_CONFIG)");
  flags.String("node-name", &node_name, "this node, to read its label ($NODE_NAME)");
  flags.String("kubeconfig", &kubeconfig, "default: in-cluster, then $KUBECONFIG");
  flags.String("validations-dir", &validations_dir, "where the ready files go");
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (std::optional<int> exit = flags.ParseOrExit(rest, kSummary, out, err)) return *exit;
  if (workload.empty() && !node_name.empty()) {
    absl::StatusOr<std::string> label = WorkloadLabel(node_name, kubeconfig);
    if (!label.ok()) {
      err << "validator vfio-pci: read node " << node_name << ": " << label.status().message()
          << "\n";
      return 1;
    }
    workload = *label;
  }
  if (workload.empty()) workload = default_workload;

  const absl::Status result = operands::ValidateVfioPci(
      host::HostRoot(host_root), {.workload = workload, .validations_dir = validations_dir});
  if (!result.ok()) {
    err << "validator vfio-pci: " << result.message() << "\n";
    return 1;
  }
  out << "validator vfio-pci: "
      << (workload == api::kWorkloadVmPassthrough ? "every GPU is on vfio; vfio-pci-ready written"
                                                  : "workload " + workload + ": nothing to check")
      << "\n";
  return 0;
}

}  // namespace

Subcommand ValidatorSubcommand() {
  return {"validator", "validation steps that order the node agents (vfio-pci)", RunValidator};
}

}  // namespace gpuop::cli
