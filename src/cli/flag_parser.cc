#include "cli/flag_parser.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "cli/dispatcher.h"

namespace gpuop::cli {

void FlagParser::String(std::string name, std::string* value, std::string help) {
  flags_.push_back({std::move(name), std::move(help), value, nullptr, *value});
}

void FlagParser::Bool(std::string name, bool* value, std::string help) {
  flags_.push_back({std::move(name), std::move(help), nullptr, value, *value ? "true" : "false"});
}

FlagParser::Flag* FlagParser::Find(const std::string& name) {
  for (Flag& flag : flags_) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

void FlagParser::Positional(std::vector<std::string>* values, std::string help) {
  positional_ = values;
  positional_help_ = std::move(help);
}

void FlagParser::Short(char letter, const std::string& name) {
  if (Flag* flag = Find(name)) flag->letter = letter;
}

absl::Status FlagParser::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      continue;
    }
    // -n value, -n=value: the long flag of that letter.
    if (arg.size() >= 2 && arg[0] == '-' && arg[1] != '-') {
      const auto flag = std::find_if(flags_.begin(), flags_.end(),
                                     [&](const Flag& f) { return f.letter == arg[1]; });
      if (flag != flags_.end()) {
        arg = arg.size() == 2
                  ? "--" + flag->name
                  : absl::StrCat("--", flag->name, "=", arg.substr(arg[2] == '=' ? 3 : 2));
      }
    }
    if (!absl::StartsWith(arg, "--") && positional_ != nullptr) {
      positional_->push_back(arg);
      continue;
    }
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat(command_, ": unexpected argument \"", arg, "\""));
    }
    const size_t equals = arg.find('=');
    const std::string name =
        arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
    Flag* flag = Find(name);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(command_, ": unknown flag --", name));
    }
    std::string value;
    if (equals != std::string::npos) {
      value = arg.substr(equals + 1);
    } else if (flag->bool_value != nullptr) {
      value = "true";
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat(command_, ": --", name, " needs a value"));
    }
    if (flag->bool_value != nullptr) {
      if (value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat(command_, ": --", name, " is true or false, not \"", value, "\""));
      }
      *flag->bool_value = value == "true";
    } else {
      *flag->string_value = value;
    }
  }
  return absl::OkStatus();
}

std::string FlagParser::Usage(const std::string& summary) const {
  std::string usage =
      absl::StrCat("usage: gpuop ", command_, " [flags]\n", summary, "\n\nflags:\n");
  if (positional_ != nullptr) absl::StrAppend(&usage, "  ", positional_help_, "\n");
  for (const Flag& flag : flags_) {
    const std::string spelled =
        flag.letter == 0 ? flag.name : absl::StrCat(flag.name, ", -", std::string(1, flag.letter));
    absl::StrAppendFormat(&usage, "  --%-22s %s", spelled, flag.help);
    if (!flag.default_text.empty()) absl::StrAppend(&usage, " (default: ", flag.default_text, ")");
    usage += "\n";
  }
  return usage;
}

std::optional<int> FlagParser::ParseOrExit(const std::vector<std::string>& args,
                                           const std::string& summary, std::ostream& out,
                                           std::ostream& err) {
  if (absl::Status parsed = Parse(args); !parsed.ok()) {
    err << parsed.message() << "\n" << Usage(summary);
    return kExitUsage;
  }
  if (help_requested_) {
    out << Usage(summary);
    return 0;
  }
  return std::nullopt;
}

std::string EnvOr(const char* name, const std::string& fallback) {
  // Flags are parsed on the main thread before any other starts, and nothing calls setenv.
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

}  // namespace gpuop::cli
