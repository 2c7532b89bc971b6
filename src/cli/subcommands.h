#pragma once

// The table of gpuop's subcommands: the one place a new role of the binary is registered.

#include <vector>

#include "cli/dispatcher.h"

namespace gpuop::cli {

std::vector<Subcommand> AllSubcommands();

// Each subcommand's entry, defined in its <name>_command.cc.
Subcommand CcManagerSubcommand();
Subcommand DevicePluginSubcommand();
Subcommand VfioManagerSubcommand();
Subcommand KataManagerSubcommand();
Subcommand OperatorSubcommand();
Subcommand ValidatorSubcommand();
Subcommand DoctorSubcommand();
Subcommand StatusSubcommand();
Subcommand UninstallCleanupSubcommand();

}  // namespace gpuop::cli
