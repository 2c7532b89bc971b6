#include "cli/dispatcher.h"

#include <algorithm>
#include <ostream>
#include <utility>

#include "common/version.h"

namespace gpuop::cli {
namespace {

bool IsHelp(const std::string& arg) { return arg == "--help" || arg == "-h" || arg == "help"; }
bool IsVersion(const std::string& arg) { return arg == "--version" || arg == "version"; }

}  // namespace

Dispatcher::Dispatcher(std::vector<Subcommand> subcommands) : subcommands_(std::move(subcommands)) {
  std::sort(subcommands_.begin(), subcommands_.end(),
            [](const Subcommand& a, const Subcommand& b) { return a.name < b.name; });
}

const Subcommand* Dispatcher::Find(const std::string& name) const {
  for (const Subcommand& subcommand : subcommands_) {
    if (subcommand.name == name) return &subcommand;
  }
  return nullptr;
}

void Dispatcher::PrintUsage(std::ostream& os) const {
  os << "gpuop " << common::Version()
     << ": GPU operator for Kubernetes, built for sandboxed (Kata, confidential) GPU workloads.\n\n"
     << "Usage: gpuop <command> [arguments]\n\nCommands:\n";
  size_t width = std::string("version").size();
  for (const Subcommand& subcommand : subcommands_) {
    width = std::max(width, subcommand.name.size());
  }
  auto line = [&](const std::string& name, const std::string& summary) {
    os << "  " << name << std::string(width - name.size() + 2, ' ') << summary << "\n";
  };
  for (const Subcommand& subcommand : subcommands_) line(subcommand.name, subcommand.summary);
  line("help", "Show this help, or a command's help with 'help <command>'");
  line("version", "Print the version");
  os << "\nRun 'gpuop <command> --help' for a command's arguments.\n";
}

int Dispatcher::RunHelp(const std::string& topic, std::ostream& out, std::ostream& err) const {
  // A help word asks for this help, whichever word and however often (`help help`, `--help -h`).
  // Answered here, never by dispatching again: rewritten as `help --help`, `help help` would
  // recurse until the stack ran out.
  if (topic.empty() || IsHelp(topic)) {
    PrintUsage(out);
    return 0;
  }
  if (IsVersion(topic)) {
    out << "Usage: gpuop version\n\nPrints the version.\n";
    return 0;
  }
  const Subcommand* subcommand = Find(topic);
  if (subcommand == nullptr) {
    err << "gpuop help: no command \"" << topic << "\"\nRun 'gpuop --help' for the commands.\n";
    return kExitUsage;
  }
  // `gpuop help operator` is `gpuop operator --help`.
  return subcommand->run({"--help"}, out, err);
}

int Dispatcher::Run(const std::vector<std::string>& argv, std::ostream& out,
                    std::ostream& err) const {
  if (argv.size() < 2) {
    PrintUsage(err);
    return kExitUsage;
  }
  const std::string& name = argv[1];
  if (IsVersion(name)) {
    out << "gpuop " << common::Version() << "\n";
    return 0;
  }
  if (IsHelp(name)) return RunHelp(argv.size() > 2 ? argv[2] : "", out, err);
  const Subcommand* subcommand = Find(name);
  if (subcommand == nullptr) {
    err << "gpuop: unknown command \"" << name << "\"\nRun 'gpuop --help' for the commands.\n";
    return kExitUsage;
  }
  return subcommand->run(std::vector<std::string>(argv.begin() + 2, argv.end()), out, err);
}

}  // namespace gpuop::cli
