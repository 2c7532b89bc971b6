#pragma once

// Routes a gpuop command line to one of its subcommands (`gpuop operator`, `gpuop doctor`, ...)
// and answers --help and --version itself. Output goes to the streams passed in, so tests can
// read it.

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace gpuop::cli {

// Exit status for a command line that could not be understood (as in BSD's sysexits and most
// CLIs: 2 = usage error), distinct from 1 = the command ran and failed.
inline constexpr int kExitUsage = 2;

struct Subcommand {
  // Runs the subcommand with the arguments after its name; returns the process exit status.
  using Runner = std::function<int(const std::vector<std::string>& args, std::ostream& out,
                                   std::ostream& err)>;

  std::string name;
  std::string summary;  // One line, shown by --help.
  Runner run;
};

class Dispatcher {
 public:
  explicit Dispatcher(std::vector<Subcommand> subcommands);

  // argv as main() received it (argv[0] included). Returns the exit status: the subcommand's, 0
  // for --help/--version, kExitUsage for a missing or unknown subcommand (also after `help`).
  int Run(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) const;

 private:
  const Subcommand* Find(const std::string& name) const;
  // `gpuop help [topic]` (or --help/-h): the top-level help for no topic or a help word, else
  // that command's help; an unknown topic is a usage error.
  int RunHelp(const std::string& topic, std::ostream& out, std::ostream& err) const;
  void PrintUsage(std::ostream& os) const;

  std::vector<Subcommand> subcommands_;
};

}  // namespace gpuop::cli
