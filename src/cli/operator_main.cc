// gpuop-operator: `gpuop operator` in a binary of its own. The operator is the one role that
// runs beside every GPU node's state in memory, and a binary that carried the node agents too
// loaded gRPC, protobuf and libsystemd, which the operator never calls (about 6 MB of its
// resident memory; docs/benchmarks.md). Its arguments are `gpuop operator`'s.

#include <iostream>
#include <string>
#include <vector>

#include "cli/dispatcher.h"
#include "cli/subcommands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  // `gpuop-operator --version` as `gpuop --version`; anything else is the operator's.
  const bool version = args.size() == 2 && (args[1] == "--version" || args[1] == "version");
  if (!version) args.insert(args.begin() + 1, "operator");
  const gpuop::cli::Dispatcher dispatcher({gpuop::cli::OperatorSubcommand()});
  return dispatcher.Run(args, std::cout, std::cerr);
}
