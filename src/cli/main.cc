#include <iostream>
#include <string>
#include <vector>

#include "cli/dispatcher.h"
#include "cli/subcommands.h"

int main(int argc, char** argv) {
  const gpuop::cli::Dispatcher dispatcher(gpuop::cli::AllSubcommands());
  return dispatcher.Run(std::vector<std::string>(argv, argv + argc), std::cout, std::cerr);
}
