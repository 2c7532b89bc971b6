// `gpuop vfio-manager`: the VFIO manager node agent (operands/vfio_manager).

#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "api/paths.h"
#include "cli/dispatcher.h"
#include "cli/flag_parser.h"
#include "cli/signals.h"
#include "cli/subcommands.h"
#include "common/logger.h"
#include "host/host_kernel.h"
#include "operands/vfio_manager/vfio_manager.h"

namespace gpuop::cli {
namespace {

constexpr char kSummary[] =
    "Binds every NVIDIA GPU, and the other functions of its IOMMU group, to vfio-pci (or the\n"
    "vfio variant driver modules.alias names), keeps them bound as GPUs come and go, and writes\n"
    "vfio-pci-ready. GPUs already on a vfio driver are never touched.";

int RunVfioManager(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string host_root = EnvOr("HOST_ROOT", "/");
  std::string vendor = "10de";
  std::string validations_dir = api::kValidationsDir;
  std::string log_format = "text";
  bool include_nvswitches = EnvOr("BIND_NVSWITCHES", "false") == "true";
  bool once = false;
  bool unbind_on_exit = false;
  FlagParser flags("vfio-manager");
  flags.String("host-root", &host_root, "where the host's / is mounted ($HOST_ROOT)");
  flags.String("vendor", &vendor, "PCI vendor id of the devices to bind, hex");
  flags.Bool("include-nvswitches", &include_nvswitches, "bind NVSwitches too ($BIND_NVSWITCHES)");
  flags.String("validations-dir", &validations_dir, "where vfio-pci-ready is written");
  flags.Bool("once", &once, "bind, then exit: 0 when everything is bound, 1 otherwise");
  flags.Bool("unbind-on-exit", &unbind_on_exit,
             "on SIGTERM, give the devices this run bound back to their previous drivers");
  flags.String("log-format", &log_format, "text or json");
  if (std::optional<int> exit = flags.ParseOrExit(args, kSummary, out, err)) return *exit;
  uint32_t vendor_id = 0;
  common::LogFormat format;
  if (!absl::SimpleHexAtoi(vendor, &vendor_id) || vendor_id > 0xffff) {
    err << "vfio-manager: --vendor is a 16-bit hex id like 10de, not \"" << vendor << "\"\n";
    return kExitUsage;
  }
  if (!common::ParseLogFormat(log_format, format)) {
    err << "vfio-manager: --log-format is text or json\n";
    return kExitUsage;
  }

  common::Logger log(err, format);
  const host::HostRoot root(host_root);
  host::HostKernel kernel(root);
  operands::VfioManager manager(root, kernel,
                                {.selection = {.vendor = static_cast<uint16_t>(vendor_id),
                                               .include_nvswitches = include_nvswitches},
                                 .validations_dir = validations_dir,
                                 .unbind_on_exit = unbind_on_exit},
                                log);
  if (once) return manager.BindAll().AllBound() ? 0 : 1;

  common::StopSignal stop;
  StopOnSignals signals(stop);
  log.Info("vfio-manager started", {{"host_root", host_root}, {"vendor", vendor}});
  return manager.Run(stop);
}

}  // namespace

Subcommand VfioManagerSubcommand() {
  return {"vfio-manager", "bind GPUs to vfio-pci and keep them there (node agent)", RunVfioManager};
}

}  // namespace gpuop::cli
