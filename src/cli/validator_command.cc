// `gpuop validator <component>`: the validator's steps, run as init containers that order the
// node agents: vfio-pci and cc-manager.

#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "api/labels.h"
#include "api/paths.h"
#include "cli/agent_main.h"
#include "cli/subcommands.h"
#include "operands/validator/cc_manager_validation.h"
#include "operands/validator/node_labels.h"
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
  AgentMain main("validator wait", kSummary, out, err);
  std::string timeout = "0";
  std::vector<std::string> files;
  main.Flags().String("timeout", &timeout, "seconds to wait; 0: as long as it takes");
  main.Flags().Positional(&files, "FILE  the file to wait for");
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  int timeout_seconds = 0;
  if (files.size() != 1 || !absl::SimpleAtoi(timeout, &timeout_seconds) || timeout_seconds < 0) {
    err << "usage: gpuop validator wait FILE [--timeout=SECONDS]\n";
    return kExitUsage;
  }
  main.CatchSignals();
  out << "validator wait: waiting for " << files[0] << std::endl;
  const absl::Status waited =
      operands::WaitForFile(files[0], std::chrono::seconds(timeout_seconds), main.Stop());
  if (!waited.ok()) return main.Failure(waited.message());
  out << "validator wait: " << files[0] << " is there\n";
  return 0;
}

int RunHoldStep(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  AgentMain main("validator hold", kSummary, out, err);
  std::vector<std::string> files;
  main.Flags().Positional(&files, "FILE...  the files to remove on SIGTERM");
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  main.CatchSignals();
  const std::vector<std::string> left = operands::HoldThenRemove(files, main.Stop());
  for (const std::string& problem : left) {
    err << "validator hold: cannot remove " << problem << "\n";
  }
  return left.empty() ? 0 : 1;
}

int RunCcManagerStep(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  AgentMain main("validator cc-manager", kSummary, out, err);
  std::string validations_dir = api::kValidationsDir;
  std::string capable;
  main.NodeNameFlag("this node, to read nvidia.com/cc.capable ($NODE_NAME)");
  main.KubeconfigFlag();
  main.Flags().String("validations-dir", &validations_dir, "where the ready files are");
  main.Flags().String("cc-capable", &capable,
                      "true or false; default: the node's label, via the API");
  const int& timeout_seconds =
      main.SecondsFlag("timeout", 0, "seconds to wait for the CC manager; 0: as long as it takes",
                       "--timeout is whole seconds");
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  main.CatchSignals();
  if (capable.empty()) {
    if (main.NodeName().empty()) {
      return main.UsageError("--node-name ($NODE_NAME) or --cc-capable is needed");
    }
    absl::StatusOr<std::string> label = operands::WaitForCcCapable(
        main.NodeName(), [&main](const std::string& key) { return main.NodeLabel(key); },
        std::chrono::seconds(timeout_seconds), main.Stop());
    if (absl::IsCancelled(label.status())) return 1;
    if (!label.ok()) return main.Failure(label.status().message());
    capable = *label;
  }
  const absl::Status result =
      operands::ValidateCcManager({.validations_dir = validations_dir,
                                   .cc_capable = capable == "true",
                                   .timeout = std::chrono::seconds(timeout_seconds)},
                                  main.Stop());
  if (!result.ok()) return main.Failure(result.message());
  out << "validator cc-manager: "
      << (capable == "true" ? "the CC manager has applied the node's mode"
                            : "not a CC-capable node, nothing to wait for")
      << "; cc-manager-ready written\n";
  return 0;
}

int RunVfioPciStep(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  AgentMain main("validator vfio-pci", kSummary, out, err);
  std::string workload;
  std::string default_workload = EnvOr("DEFAULT_GPU_WORKLOAD_CONFIG", api::kWorkloadContainer);
  std::string validations_dir = api::kValidationsDir;
  main.HostRootFlag();
  main.Flags().String("workload", &workload,
                      "the node's workload; default: its label, via the API");
  main.Flags().String("default-workload", &default_workload,
                      "when the node has no workload label ($DEFAULT_GPU_WORKLOAD_CONFIG)");
  main.NodeNameFlag("this node, to read its label ($NODE_NAME)");
  main.KubeconfigFlag();
  main.Flags().String("validations-dir", &validations_dir, "where the ready files go");
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  absl::StatusOr<std::string> chosen = operands::ChooseWorkload(
      workload, main.NodeName(), [&main](const std::string& key) { return main.NodeLabel(key); },
      default_workload);
  if (!chosen.ok()) return main.Failure(chosen.status().message());
  const absl::Status result = operands::ValidateVfioPci(
      host::HostRoot(main.HostRoot()), {.workload = *chosen, .validations_dir = validations_dir});
  if (!result.ok()) return main.Failure(result.message());
  out << "validator vfio-pci: "
      << (*chosen == api::kWorkloadVmPassthrough ? "every GPU is on vfio; vfio-pci-ready written"
                                                 : "workload " + *chosen + ": nothing to check")
      << "\n";
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
  if (args[0] == "cc-manager") return RunCcManagerStep(step_args, out, err);
  if (args[0] == "vfio-pci") return RunVfioPciStep(step_args, out, err);
  err << "validator: unknown step \"" << args[0]
      << "\" (steps: vfio-pci, cc-manager, wait, hold)\n";
  return kExitUsage;
}

}  // namespace

Subcommand ValidatorSubcommand() {
  return {"validator", "validation steps that order the node agents (vfio-pci, cc-manager)",
          RunValidator};
}

}  // namespace gpuop::cli
