#include "containerd/config_file.h"

#include <fnmatch.h>

#include <algorithm>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace gpuop::containerd {
namespace {

// Marks the imports line gpuop wrote into a file that had none, so cleanup can take it out.
constexpr char kMarker[] =
    "# Added by gpuop kata-manager (its containerd drop-in); removed on cleanup.";

// Where the top-level `imports = [...]` sits in the text: [line_begin, value_begin, value_end)
// with the value being the array, brackets included. Aware of strings and comments, so a '['
// inside a string or a commented-out line does not count.
struct ImportsSpan {
  size_t line_begin = 0;
  size_t value_begin = 0;
  size_t value_end = 0;
};

// Skips one TOML string starting at text[i] (a quote); returns the index after it.
size_t SkipString(const std::string& text, size_t i) {
  const char quote = text[i];
  const bool multiline = text.compare(i, 3, std::string(3, quote)) == 0;
  size_t at = i + (multiline ? 3 : 1);
  while (at < text.size()) {
    if (quote == '"' && text[at] == '\\') {
      at += 2;
      continue;
    }
    if (multiline) {
      if (text.compare(at, 3, std::string(3, quote)) == 0) {
        at += 3;
        // Up to two more quotes may end the string's contents (""""" is legal).
        while (at < text.size() && text[at] == quote) ++at;
        return at;
      }
    } else if (text[at] == quote || text[at] == '\n') {
      return at + 1;
    }
    ++at;
  }
  return at;
}

// Index just after the ']' matching the '[' at text[i].
std::optional<size_t> MatchingBracket(const std::string& text, size_t i) {
  int depth = 0;
  for (size_t at = i; at < text.size();) {
    const char c = text[at];
    if (c == '"' || c == '\'') {
      at = SkipString(text, at);
      continue;
    }
    if (c == '#') {
      at = text.find('\n', at);
      if (at == std::string::npos) return std::nullopt;
      continue;
    }
    if (c == '[') ++depth;
    if (c == ']' && --depth == 0) return at + 1;
    ++at;
  }
  return std::nullopt;
}

// The span of top-level `imports`, or nullopt when there is none before the first table.
std::optional<ImportsSpan> FindImports(const std::string& text) {
  size_t at = 0;
  while (at < text.size()) {
    const size_t line_begin = at;
    while (at < text.size() && (text[at] == ' ' || text[at] == '\t')) ++at;
    if (at >= text.size()) break;
    const char c = text[at];
    if (c == '[') return std::nullopt;  // The first table: top-level keys end here.
    if (text.compare(at, 7, "imports") == 0) {
      size_t eq = at + 7;
      while (eq < text.size() && (text[eq] == ' ' || text[eq] == '\t')) ++eq;
      if (eq < text.size() && text[eq] == '=') {
        size_t value = eq + 1;
        while (value < text.size() && (text[value] == ' ' || text[value] == '\t')) ++value;
        if (value < text.size() && text[value] == '[') {
          if (std::optional<size_t> end = MatchingBracket(text, value)) {
            return ImportsSpan{line_begin, value, *end};
          }
        }
        return std::nullopt;
      }
    }
    // Past this line: a key's value may hold strings and arrays over several lines.
    while (at < text.size() && text[at] != '\n') {
      if (text[at] == '"' || text[at] == '\'') {
        at = SkipString(text, at);
      } else if (text[at] == '[') {
        at = MatchingBracket(text, at).value_or(text.size());
      } else if (text[at] == '#') {
        at = text.find('\n', at);
        if (at == std::string::npos) at = text.size();
      } else {
        ++at;
      }
    }
    ++at;
  }
  return std::nullopt;
}

// Where a new top-level key may go: before the first table header, else at the end.
size_t FirstTableLine(const std::string& text) {
  size_t at = 0;
  while (at < text.size()) {
    size_t first = at;
    while (first < text.size() && (text[first] == ' ' || text[first] == '\t')) ++first;
    if (first < text.size() && text[first] == '[') return at;
    const size_t next = text.find('\n', at);
    if (next == std::string::npos) return text.size();
    at = next + 1;
  }
  return text.size();
}

std::string RenderArray(const std::vector<std::string>& entries) {
  std::vector<std::string> quoted;
  quoted.reserve(entries.size());
  // A JSON string is a TOML basic string: the same quotes and escapes.
  for (const std::string& entry : entries) quoted.push_back(nlohmann::json(entry).dump());
  return absl::StrCat("[", absl::StrJoin(quoted, ", "), "]");
}

// The parsed edit must equal the original but for `imports`, which must be `want`.
absl::Status CheckOnlyImportsChanged(const MainConfig& before, const std::string& edited,
                                     const std::vector<std::string>& want) {
  absl::StatusOr<MainConfig> after = ParseMainConfig(edited);
  if (!after.ok()) {
    return absl::InternalError(
        absl::StrCat("editing imports would break the file: ", after.status().message()));
  }
  toml::table rest_before = before.document;
  toml::table rest_after = after->document;
  rest_before.erase("imports");
  rest_after.erase("imports");
  if (after->imports != want || rest_before != rest_after) {
    return absl::InternalError(
        "editing imports would change more than imports; the file is left as it is");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<MainConfig> ParseMainConfig(const std::string& text) {
  MainConfig config;
  try {
    config.document = toml::parse(text);
  } catch (const toml::parse_error& error) {
    const toml::source_position at = error.source().begin;
    return absl::InvalidArgumentError(absl::StrCat("not valid TOML at line ", at.line, ", column ",
                                                   at.column, ": ",
                                                   std::string(error.description())));
  }
  if (const toml::node* version = config.document.get("version")) {
    // An integer only: value<int64_t>() would also convert a float, and one past int64's range
    // (`version = 3.3e23`, found by the fuzzer) is undefined behaviour in that conversion.
    const std::optional<int64_t> number =
        version->is_integer() ? std::optional<int64_t>(version->as_integer()->get()) : std::nullopt;
    if (!number || *number < 1 || *number > 3) {
      return absl::InvalidArgumentError(
          "`version` must be 1, 2 or 3 (the containerd config schema)");
    }
    config.schema = static_cast<int>(*number);
  }
  if (const toml::node* imports = config.document.get("imports")) {
    const toml::array* entries = imports->as_array();
    if (entries == nullptr) return absl::InvalidArgumentError("`imports` must be an array");
    for (const toml::node& entry : *entries) {
      const std::optional<std::string> path = entry.value<std::string>();
      if (!path) return absl::InvalidArgumentError("`imports` must hold strings only");
      config.imports.push_back(*path);
    }
  }
  return config;
}

bool ImportsCover(const std::vector<std::string>& imports, const std::string& path) {
  return std::any_of(imports.begin(), imports.end(), [&](const std::string& entry) {
    if (entry == path) return true;
    return entry.find('*') != std::string::npos &&
           fnmatch(entry.c_str(), path.c_str(), FNM_PATHNAME) == 0;
  });
}

absl::StatusOr<std::string> WithImport(const std::string& text, const std::string& path) {
  absl::StatusOr<MainConfig> config = ParseMainConfig(text);
  if (!config.ok()) return config.status();
  if (ImportsCover(config->imports, path)) return text;
  std::vector<std::string> want = config->imports;
  want.push_back(path);
  std::string edited;
  if (config->document.contains("imports")) {
    const std::optional<ImportsSpan> span = FindImports(text);
    if (!span) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot find the `imports = [...]` line to extend; add \"", path, "\" to it by hand"));
    }
    edited = absl::StrCat(text.substr(0, span->value_begin), RenderArray(want),
                          text.substr(span->value_end));
  } else {
    const size_t at = FirstTableLine(text);
    const bool needs_newline_before = at > 0 && text[at - 1] != '\n';
    const bool table_follows = at < text.size();
    edited = absl::StrCat(text.substr(0, at), needs_newline_before ? "\n" : "", kMarker,
                          "\nimports = ", RenderArray(want), "\n", table_follows ? "\n" : "",
                          text.substr(at));
  }
  if (absl::Status only = CheckOnlyImportsChanged(*config, edited, want); !only.ok()) return only;
  return edited;
}

absl::StatusOr<std::string> WithoutImport(const std::string& text, const std::string& path) {
  absl::StatusOr<MainConfig> config = ParseMainConfig(text);
  if (!config.ok()) return config.status();
  std::vector<std::string> want = config->imports;
  want.erase(std::remove(want.begin(), want.end(), path), want.end());
  if (want.size() == config->imports.size()) return text;
  const std::optional<ImportsSpan> span = FindImports(text);
  if (!span) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot find the `imports = [...]` line; take \"", path, "\" out of it by hand"));
  }
  std::string edited;
  const std::string marker_line = absl::StrCat(kMarker, "\n");
  const bool ours =
      span->line_begin >= marker_line.size() &&
      text.compare(span->line_begin - marker_line.size(), marker_line.size(), marker_line) == 0;
  if (ours && want.empty()) {
    size_t end = text.find('\n', span->value_end);
    end = end == std::string::npos ? text.size() : end + 1;
    // The blank line WithImport put before a table goes too.
    if (end < text.size() && text[end] == '\n') ++end;
    edited = absl::StrCat(text.substr(0, span->line_begin - marker_line.size()), text.substr(end));
    toml::table rest = config->document;
    rest.erase("imports");
    absl::StatusOr<MainConfig> after = ParseMainConfig(edited);
    if (!after.ok() || after->document != rest) {
      return absl::InternalError("removing the imports line would change more; left as it is");
    }
    return edited;
  }
  edited = absl::StrCat(text.substr(0, span->value_begin), RenderArray(want),
                        text.substr(span->value_end));
  if (absl::Status only = CheckOnlyImportsChanged(*config, edited, want); !only.ok()) return only;
  return edited;
}

}  // namespace gpuop::containerd
