#pragma once

// Flags of one subcommand: `--name=value`, `--name value`, and `--name` for booleans. Each
// subcommand declares its flags with defaults from the environment where NVIDIA's agents read
// them from the environment (HOST_ROOT, NODE_NAME, ...), so our DaemonSets can set either.
//
//   FlagParser flags("vfio-manager");
//   flags.String("host-root", &host_root, "where the host's / is mounted");
//   if (absl::Status s = flags.Parse(args); !s.ok()) ...

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace gpuop::cli {

class FlagParser {
 public:
  explicit FlagParser(std::string command) : command_(std::move(command)) {}

  void String(std::string name, std::string* value, std::string help);
  void Bool(std::string name, bool* value, std::string help);
  // `-<letter> value` (or `-<letter>=value`) as another spelling of the declared --`name`, as
  // kubectl spells -n for --namespace.
  void Short(char letter, const std::string& name);
  // Accepts arguments that are not flags, in order, into `values` (refused otherwise).
  void Positional(std::vector<std::string>* values, std::string help);

  // Fills the declared values. An unknown flag, a missing value or a positional argument (unless
  // Positional was called) is InvalidArgument naming it. "--help" sets HelpRequested() instead.
  absl::Status Parse(const std::vector<std::string>& args);
  bool HelpRequested() const { return help_requested_; }
  // "usage: gpuop <command> [flags]" and one line per flag with its default.
  std::string Usage(const std::string& summary) const;
  // Parse, answering --help (exit 0) and bad flags (usage on `err`, exit kExitUsage) itself:
  // returns the exit status when the command should end there, nullopt to go on.
  std::optional<int> ParseOrExit(const std::vector<std::string>& args, const std::string& summary,
                                 std::ostream& out, std::ostream& err);

 private:
  struct Flag {
    std::string name;
    std::string help;
    std::string* string_value = nullptr;
    bool* bool_value = nullptr;
    std::string default_text;
    char letter = 0;  // Its short spelling; 0: none.
  };
  Flag* Find(const std::string& name);

  std::string command_;
  std::vector<Flag> flags_;
  std::vector<std::string>* positional_ = nullptr;
  std::string positional_help_;
  bool help_requested_ = false;
};

// $name, or `fallback` when unset or empty.
std::string EnvOr(const char* name, const std::string& fallback);

}  // namespace gpuop::cli
