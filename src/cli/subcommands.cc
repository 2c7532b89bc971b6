#include "cli/subcommands.h"

namespace gpuop::cli {

std::vector<Subcommand> AllSubcommands() {
  // Each role of docs/architecture.md ("One binary, many roles") joins this table as it is
  // built; none is listed before it works.
  return {CcManagerSubcommand(),        DevicePluginSubcommand(), DoctorSubcommand(),
          KataManagerSubcommand(),      OperatorSubcommand(),     StatusSubcommand(),
          UninstallCleanupSubcommand(), ValidatorSubcommand(),    VfioManagerSubcommand()};
}

}  // namespace gpuop::cli
