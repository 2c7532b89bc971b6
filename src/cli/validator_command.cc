// `gpuop validator <component>`: the validator's steps, run as init containers that order the
// node agents: vfio-pci and cc-manager.

#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "api/labels.h"
#include "api/paths.h"
#include "cli/dispatcher.h"
#include "cli/flag_parser.h"
#include "cli/signals.h"
#include "cli/subcommands.h"
#include "kube/json_fields.h"
#include "kube/rest_client.h"
#include "operands/validator/cc_manager_validation.h"
#include "operands/validator/ready_files.h"
#include "operands/validator/vfio_validation.h"

namespace gpuop::cli {
namespace {

constexpr char kSummary[] =
    "Steps: vfio-pci writes workload-type, then for vm-passthrough checks that every NVIDIA GPU\n"
    "is on vfio-pci with a usable IOMMU group and writes vfio-pci-ready. cc-manager waits, on a\n"
    "node labelled nvidia.com/cc.capable=true, until the CC manager has applied the node's mode\n"
    "once, then writes cc-manager-ready. Each exits non-zero with a one-line reason otherwise.\n"
    "wait FILE waits until FILE exists (the agents' init containers); hold FILE... runs until\n"
    "SIGTERM, then removes the FILEs (the validator pod's main container).";

int RunWaitStep(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string timeout = "0";
  FlagParser flags("validator wait");
  flags.String("timeout", &timeout, "seconds to wait; 0: as long as it takes");
  std::vector<std::string> files;
  flags.Positional(&files, "FILE  the file to wait for");
  if (std::optional<int> exit = flags.ParseOrExit(args, kSummary, out, err)) return *exit;
  int timeout_seconds = 0;
  if (files.size() != 1 || !absl::SimpleAtoi(timeout, &timeout_seconds) || timeout_seconds < 0) {
    err << "usage: gpuop validator wait FILE [--timeout=SECONDS]\n";
    return kExitUsage;
  }
  common::StopSignal stop;
  StopOnSignals signals(stop);
  out << "validator wait: waiting for " << files[0] << std::endl;
  const absl::Status waited =
      operands::WaitForFile(files[0], std::chrono::seconds(timeout_seconds), stop);
  if (!waited.ok()) {
    err << "validator wait: " << waited.message() << "\n";
    return 1;
  }
  out << "validator wait: " << files[0] << " is there\n";
  return 0;
}

int RunHoldStep(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  FlagParser flags("validator hold");
  std::vector<std::string> files;
  flags.Positional(&files, "FILE...  the files to remove on SIGTERM");
  if (std::optional<int> exit = flags.ParseOrExit(args, kSummary, out, err)) return *exit;
  common::StopSignal stop;
  StopOnSignals signals(stop);
  const std::vector<std::string> left = operands::HoldThenRemove(files, stop);
  for (const std::string& problem : left)
    err << "validator hold: cannot remove " << problem << "\n";
  return left.empty() ? 0 : 1;
}

// A label of the node, "" when it has none; an error when the API cannot be asked (the step
// must not guess while the label may say otherwise).
absl::StatusOr<std::string> NodeLabel(const std::string& node_name, const std::string& kubeconfig,
                                      const std::string& key) {
  absl::StatusOr<std::unique_ptr<kube::RestClient>> client =
      kube::ConnectToApiServer({.kubeconfig = kubeconfig});
  if (!client.ok()) return client.status();
  absl::StatusOr<kube::json> node = (*client)->Get(kube::resources::kNodes, "", node_name);
  if (!node.ok()) return node.status();
  return kube::StringField(kube::ObjectField(kube::ObjectField(*node, "metadata"), "labels"),
                           key.c_str());
}

int RunCcManagerStep(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string node_name = EnvOr("NODE_NAME", "");
  std::string kubeconfig;
  std::string validations_dir = api::kValidationsDir;
  std::string capable;
  std::string timeout = "0";
  FlagParser flags("validator cc-manager");
  flags.String("node-name", &node_name, "this node, to read nvidia.com/cc.capable ($NODE_NAME)");
  flags.String("kubeconfig", &kubeconfig, "default: in-cluster, then $KUBECONFIG");
  flags.String("validations-dir", &validations_dir, "where the ready files are");
  flags.String("cc-capable", &capable, "true or false; default: the node's label, via the API");
  flags.String("timeout", &timeout, "seconds to wait for the CC manager; 0: as long as it takes");
  if (std::optional<int> exit = flags.ParseOrExit(args, kSummary, out, err)) return *exit;
  int timeout_seconds = 0;
  if (!absl::SimpleAtoi(timeout, &timeout_seconds) || timeout_seconds < 0) {
    err << "validator cc-manager: --timeout is whole seconds\n";
    return kExitUsage;
  }
  common::StopSignal stop;
  StopOnSignals signals(stop);
  if (capable.empty()) {
    if (node_name.empty()) {
      err << "validator cc-manager: --node-name ($NODE_NAME) or --cc-capable is needed\n";
      return kExitUsage;
    }
    // The step runs only where a CC manager is deployed, and that agent sets the label before
    // it pauses or switches anything: until it has, there is no answer yet, not a "no".
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
    while (capable.empty()) {
      absl::StatusOr<std::string> label = NodeLabel(node_name, kubeconfig, "nvidia.com/cc.capable");
      if (!label.ok()) {
        err << "validator cc-manager: read node " << node_name << ": " << label.status().message()
            << "\n";
        return 1;
      }
      capable = *label;
      if (!capable.empty()) break;
      if (timeout_seconds > 0 && std::chrono::steady_clock::now() >= until) {
        err << "validator cc-manager: node " << node_name
            << " has no nvidia.com/cc.capable label yet (the CC manager sets it)\n";
        return 1;
      }
      if (stop.SleepFor(std::chrono::seconds(2))) return 1;
    }
  }
  const absl::Status result =
      operands::ValidateCcManager({.validations_dir = validations_dir,
                                   .cc_capable = capable == "true",
                                   .timeout = std::chrono::seconds(timeout_seconds)},
                                  stop);
  if (!result.ok()) {
    err << "validator cc-manager: " << result.message() << "\n";
    return 1;
  }
  out << "validator cc-manager: "
      << (capable == "true" ? "the CC manager has applied the node's mode"
                            : "not a CC-capable node, nothing to wait for")
      << "; cc-manager-ready written\n";
  return 0;
}

int RunValidator(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? err : out) << "usage: gpuop validator vfio-pci|cc-manager|wait|hold [flags]\n"
                               << kSummary << "\n";
    return args.empty() ? kExitUsage : 0;
  }
  const std::vector<std::string> step_args(args.begin() + 1, args.end());
  if (args[0] == "wait") return RunWaitStep(step_args, out, err);
  if (args[0] == "hold") return RunHoldStep(step_args, out, err);
  if (args[0] == "cc-manager") {
    return RunCcManagerStep(std::vector<std::string>(args.begin() + 1, args.end()), out, err);
  }
  if (args[0] != "vfio-pci") {
    err << "validator: unknown step \"" << args[0]
        << "\" (steps: vfio-pci, cc-manager, wait, hold)\n";
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
    absl::StatusOr<std::string> label = NodeLabel(node_name, kubeconfig, api::kWorkloadConfigLabel);
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
  return {"validator", "validation steps that order the node agents (vfio-pci, cc-manager)",
          RunValidator};
}

}  // namespace gpuop::cli
