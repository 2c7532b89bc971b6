// `gpuop validator <component>`: the validator's steps, run as init containers that order the
// node agents: driver, toolkit, cuda and plugin on the container path; vfio-pci and cc-manager on
// the sandbox path.

#include <iostream>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "api/labels.h"
#include "api/paths.h"
#include "cli/agent_main.h"
#include "cli/subcommands.h"
#include "kube/resource.h"
#include "operands/validator/cc_manager_validation.h"
#include "operands/validator/cuda_validation.h"
#include "operands/validator/cuda_workload.h"
#include "operands/validator/driver_validation.h"
#include "operands/validator/node_labels.h"
#include "operands/validator/node_status_exporter.h"
#include "operands/validator/nvidia_smi.h"
#include "operands/validator/plugin_validation.h"
#include "operands/validator/ready_files.h"
#include "operands/validator/toolkit_validation.h"
#include "operands/validator/vfio_validation.h"

namespace gpuop::cli {
namespace {

constexpr char kSteps[] =
    "driver|toolkit|cuda|cuda-workload|plugin|vfio-pci|cc-manager|wait|hold|metrics";

constexpr char kSummary[] =
    "Container path, in order: driver finds the working driver (the host's, else the driver\n"
    "container's), makes the /dev/char links and writes driver-ready with the driver's roots.\n"
    "toolkit runs nvidia-smi that the NVIDIA runtime put in its container and writes\n"
    "toolkit-ready. cuda runs a pod that copies memory to every GPU and back (cuda-workload) and\n"
    "writes cuda-ready. plugin waits until the node advertises nvidia.com/gpu or\n"
    "nvidia.com/mig-* and writes plugin-ready.\n"
    "Sandbox path: vfio-pci writes workload-type, then for vm-passthrough checks that every\n"
    "NVIDIA GPU is on vfio-pci with a usable IOMMU group and writes vfio-pci-ready. cc-manager\n"
    "waits, on a node labelled nvidia.com/cc.capable=true, until the CC manager has applied the\n"
    "node's mode once, then writes cc-manager-ready.\n"
    "Each step exits non-zero with a one-line reason when its check fails.\n"
    "wait FILE waits until FILE exists (the agents' init containers); hold FILE... runs until\n"
    "SIGTERM, then removes the FILEs (the validator pod's main container).\n"
    "metrics serves the node's progress along the container path for Prometheus (the ready\n"
    "files, a driver check, the GPUs the Node advertises, the NVIDIA PCI functions) with\n"
    "NVIDIA's gpu_operator_node_* names, until SIGTERM (the node status exporter).";

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

// A boolean from the environment, as NVIDIA's DaemonSets set them ("true" / "false").
bool EnvTrue(const char* name) { return EnvOr(name, "false") == "true"; }

void OutputDirFlag(AgentMain& main, std::string& dir) {
  dir = EnvOr("OUTPUT_DIR", api::kValidationsDir);
  main.Flags().String("output-dir", &dir, "where the ready files go ($OUTPUT_DIR)");
}

int RunDriverStep(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  AgentMain main("validator driver", kSummary, out, err);
  operands::DriverValidationOptions options{
      .driver_install_dir = EnvOr("DRIVER_INSTALL_DIR", api::kDefaultDriverInstallDir),
      .driver_install_dir_ctr_path =
          EnvOr("DRIVER_INSTALL_DIR_CTR_PATH", api::kDefaultDriverInstallDir),
      .with_wait = EnvTrue("WITH_WAIT"),
      .operator_managed_driver = EnvTrue("OPERATOR_MANAGED_DRIVER")};
  bool no_links = EnvTrue("DISABLE_DEV_CHAR_SYMLINK_CREATION");
  main.HostRootFlag();
  main.Flags().String("driver-install-dir", &options.driver_install_dir,
                      "where a driver container publishes its root on the host "
                      "($DRIVER_INSTALL_DIR)");
  main.Flags().String("driver-install-dir-ctr-path", &options.driver_install_dir_ctr_path,
                      "where that is mounted here ($DRIVER_INSTALL_DIR_CTR_PATH)");
  main.Flags().Bool("operator-managed-driver", &options.operator_managed_driver,
                    "the operator deploys the driver: wait for its .driver-ctr-ready "
                    "($OPERATOR_MANAGED_DRIVER)");
  main.Flags().Bool("with-wait", &options.with_wait,
                    "try again until a driver works, instead of once ($WITH_WAIT)");
  main.Flags().Bool("disable-dev-char-symlink-creation", &no_links,
                    "make no /dev/char links ($DISABLE_DEV_CHAR_SYMLINK_CREATION)");
  main.Flags().String("dev-char-dir", &options.dev_char_dir,
                      "where the host's /dev/char is mounted");
  OutputDirFlag(main, options.validations_dir);
  const int& interval = main.SecondsFlag("interval", 5, "seconds between tries with --with-wait",
                                         "--interval is whole seconds, at least 1", 1);
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  options.create_dev_char_links = !no_links;
  options.interval = std::chrono::seconds(interval);
  main.CatchSignals();
  operands::ProcessNvidiaSmiRunner runner;
  absl::StatusOr<operands::DriverValidation> result = operands::ValidateDriver(
      host::HostRoot(main.HostRoot()), options, runner, main.Log(), main.Stop());
  if (absl::IsCancelled(result.status())) return 1;
  if (!result.ok()) return main.Failure(result.status().message());
  for (const std::string& failure : result->links.failed) {
    main.Log().Warn("cannot make a /dev/char link", {{"error", failure}});
  }
  std::string proved =
      result->wsl ? "WSL2's driver is there (not run: it belongs to Windows)"
      : result->roots.is_host_driver
          ? "the host's driver works (its nvidia-smi ran in the host's root)"
          : absl::StrCat("the driver container's driver works (nvidia-smi ran from ",
                         options.driver_install_dir_ctr_path, ")");
  if (!result->feature_ready_files.empty()) {
    absl::StrAppend(&proved, ", with its extra modules loaded (",
                    absl::StrJoin(result->feature_ready_files, ", "), ")");
  }
  if (result->links_made) {
    absl::StrAppend(&proved, "; /dev/char links: ", result->links.created, " made, ",
                    result->links.existing, " already there");
  }
  out << "validator driver: " << proved << "; driver-ready written\n";
  return 0;
}

int RunToolkitStep(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  AgentMain main("validator toolkit", kSummary, out, err);
  operands::ToolkitValidationOptions options{.search_path = EnvOr("PATH", "/usr/bin:/bin")};
  main.Flags().String("path", &options.search_path,
                      "the folders to find nvidia-smi in ($PATH, where the runtime puts it)");
  OutputDirFlag(main, options.validations_dir);
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  operands::ProcessNvidiaSmiRunner runner;
  if (absl::Status result = operands::ValidateToolkit(options, runner); !result.ok()) {
    return main.Failure(result.message());
  }
  out << "validator toolkit: nvidia-smi, put into this container by the NVIDIA runtime, works; "
         "toolkit-ready written\n";
  return 0;
}

// The --node-name Node as the API has it now (the plugin step and the exporter count its GPUs).
operands::NodeReader ThisNodeReader(AgentMain& main) {
  return [&main]() -> absl::StatusOr<nlohmann::json> {
    absl::StatusOr<kube::RestClient*> client = main.Api();
    if (!client.ok()) return client.status();
    return (*client)->Get(kube::resources::kNodes, "", main.NodeName());
  };
}

int RunPluginStep(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  AgentMain main("validator plugin", kSummary, out, err);
  operands::PluginValidationOptions options;
  main.NodeNameFlag("this node, whose capacity to read ($NODE_NAME)");
  main.KubeconfigFlag();
  OutputDirFlag(main, options.validations_dir);
  const int& attempts = main.SecondsFlag("attempts", options.attempts,
                                         "how many times to read the node before giving up",
                                         "--attempts is a whole number, at least 1", 1);
  const int& interval = main.SecondsFlag("interval", 5, "seconds between reads",
                                         "--interval is whole seconds, at least 1", 1);
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  if (main.NodeName().empty()) return main.UsageError("--node-name ($NODE_NAME) is needed");
  options.attempts = attempts;
  options.interval = std::chrono::seconds(interval);
  if (EnvTrue("WITH_WORKLOAD")) {
    main.Log().Warn(
        "WITH_WORKLOAD=true is ignored: gpuop's plugin step runs no pod (the cuda step has "
        "already run a GPU workload on this node)");
  }
  main.CatchSignals();
  absl::StatusOr<int64_t> gpus =
      operands::ValidatePlugin(options, ThisNodeReader(main), main.Stop());
  if (absl::IsCancelled(gpus.status())) return 1;
  if (!gpus.ok()) return main.Failure(gpus.status().message());
  out << "validator plugin: node " << main.NodeName() << " advertises " << *gpus
      << " GPU resource(s) from the device plugin; plugin-ready written\n";
  return 0;
}

int RunCudaStep(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  AgentMain main("validator cuda", kSummary, out, err);
  operands::CudaValidationOptions options;
  operands::CudaPodSpec& pod = options.pod;
  pod.ns = EnvOr("OPERATOR_NAMESPACE", "");
  pod.image = EnvOr("VALIDATOR_IMAGE", "");
  pod.image_pull_policy = EnvOr("VALIDATOR_IMAGE_PULL_POLICY", "");
  std::string pull_secrets = EnvOr("VALIDATOR_IMAGE_PULL_SECRETS", "");
  pod.runtime_class = EnvOr("VALIDATOR_RUNTIME_CLASS", "");
  main.NodeNameFlag("the node to run the pod on: this one ($NODE_NAME)");
  main.KubeconfigFlag();
  main.Flags().String("namespace", &pod.ns, "where the pod goes ($OPERATOR_NAMESPACE)");
  main.Flags().String("image", &pod.image, "the pod's image: gpuop's ($VALIDATOR_IMAGE)");
  main.Flags().String("image-pull-policy", &pod.image_pull_policy,
                      "($VALIDATOR_IMAGE_PULL_POLICY)");
  main.Flags().String("image-pull-secrets", &pull_secrets,
                      "comma-separated Secret names ($VALIDATOR_IMAGE_PULL_SECRETS)");
  main.Flags().String("runtime-class", &pod.runtime_class,
                      "the pod's RuntimeClass ($VALIDATOR_RUNTIME_CLASS)");
  OutputDirFlag(main, options.validations_dir);
  const int& attempts = main.SecondsFlag("attempts", options.attempts,
                                         "how many times to look at the pod before giving up",
                                         "--attempts is a whole number, at least 1", 1);
  const int& interval = main.SecondsFlag("interval", 5, "seconds between looks",
                                         "--interval is whole seconds, at least 1", 1);
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  pod.node_name = main.NodeName();
  if (pod.node_name.empty() || pod.ns.empty() || pod.image.empty()) {
    return main.UsageError(
        "--node-name ($NODE_NAME), --namespace ($OPERATOR_NAMESPACE) and --image "
        "($VALIDATOR_IMAGE) are needed");
  }
  pod.image_pull_secrets = operands::SplitPullSecrets(pull_secrets);
  options.attempts = attempts;
  options.interval = std::chrono::seconds(interval);
  main.CatchSignals();
  absl::StatusOr<kube::RestClient*> client = main.Api();
  if (!client.ok()) return main.Failure(client.status().message());
  operands::KubeValidatorPodApi api(**client);
  absl::StatusOr<std::string> name = operands::ValidateCuda(options, api, main.Stop());
  if (absl::IsCancelled(name.status())) return 1;
  if (!name.ok()) return main.Failure(name.status().message());
  out << "validator cuda: pod " << pod.ns << "/" << *name
      << " copied memory to every GPU of the node and back; cuda-ready written\n";
  return 0;
}

int RunCudaWorkloadStep(const std::vector<std::string>& args, std::ostream& out,
                        std::ostream& err) {
  AgentMain main("validator cuda-workload", kSummary, out, err);
  operands::CudaWorkloadOptions options;
  main.Flags().String("library", &options.library,
                      "the CUDA driver library to load (the runtime puts it in)");
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  absl::StatusOr<int> gpus = operands::RunCudaWorkload(options);
  if (!gpus.ok()) return main.Failure(gpus.status().message());
  out << "validator cuda-workload: " << *gpus
      << " GPU(s) each took a memory round trip through the CUDA driver API\n";
  return 0;
}

int RunMetricsStep(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  AgentMain main("validator metrics", kSummary, out, err);
  operands::NodeStatusExporterOptions options;
  operands::DriverValidationOptions driver{
      .driver_install_dir = EnvOr("DRIVER_INSTALL_DIR", api::kDefaultDriverInstallDir),
      .driver_install_dir_ctr_path =
          EnvOr("DRIVER_INSTALL_DIR_CTR_PATH", api::kDefaultDriverInstallDir)};
  main.HostRootFlag();
  main.NodeNameFlag("this node, whose capacity to read and name in the metrics ($NODE_NAME)");
  main.KubeconfigFlag();
  main.Flags().String("driver-install-dir-ctr-path", &driver.driver_install_dir_ctr_path,
                      "where a driver container's root is mounted here "
                      "($DRIVER_INSTALL_DIR_CTR_PATH)");
  OutputDirFlag(main, options.validations_dir);
  // NVIDIA's DaemonSet sets METRICS_PORT=8000.
  main.MetricsAddressFlag("[host]:port for /metrics, /healthz, /readyz (:$METRICS_PORT)",
                          ":" + EnvOr("METRICS_PORT", "8000"));
  main.LogFormatFlag("text or json ($LOG_FORMAT)");
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  if (main.NodeName().empty()) return main.UsageError("--node-name ($NODE_NAME) is needed");
  options.node_name = main.NodeName();
  const host::HostRoot host_root(main.HostRoot());
  operands::ProcessNvidiaSmiRunner runner;
  operands::NodeStatusProbes probes{
      .check_driver = [&]() { return operands::ProbeDriver(host_root, driver, runner); },
      .read_node = ThisNodeReader(main),
      .count_nvidia_pci = [&]() { return operands::CountNvidiaPciFunctions(host_root); },
      .now_seconds = operands::WallClockSeconds};
  auto registry = std::make_shared<prometheus::Registry>();
  operands::NodeStatusExporter exporter(*registry, options, probes, main.Log());
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> server = main.ServeMetrics(registry);
  if (!server.ok()) return main.Failure(server.status().message());
  if (*server != nullptr) (*server)->SetReady(true);
  main.CatchSignals();
  main.Log().Info("node status exporter started",
                  {{"node", options.node_name}, {"address", main.MetricsAddress()}});
  exporter.Run(main.Stop());
  main.Log().Info("node status exporter stopped");
  return 0;
}

int RunValidator(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? err : out) << "usage: gpuop validator " << kSteps << " [flags]\n"
                               << kSummary << "\n";
    return args.empty() ? kExitUsage : 0;
  }
  const std::vector<std::string> step_args(args.begin() + 1, args.end());
  if (args[0] == "wait") return RunWaitStep(step_args, out, err);
  if (args[0] == "hold") return RunHoldStep(step_args, out, err);
  if (args[0] == "cc-manager") return RunCcManagerStep(step_args, out, err);
  if (args[0] == "vfio-pci") return RunVfioPciStep(step_args, out, err);
  if (args[0] == "driver") return RunDriverStep(step_args, out, err);
  if (args[0] == "toolkit") return RunToolkitStep(step_args, out, err);
  if (args[0] == "cuda") return RunCudaStep(step_args, out, err);
  if (args[0] == "cuda-workload") return RunCudaWorkloadStep(step_args, out, err);
  if (args[0] == "plugin") return RunPluginStep(step_args, out, err);
  if (args[0] == "metrics") return RunMetricsStep(step_args, out, err);
  err << "validator: unknown step \"" << args[0] << "\" (steps: " << kSteps << ")\n";
  return kExitUsage;
}

}  // namespace

Subcommand ValidatorSubcommand() {
  return {"validator",
          "validation steps that order the node agents (driver, toolkit, cuda, plugin, vfio-pci, "
          "cc-manager)",
          RunValidator};
}

}  // namespace gpuop::cli
