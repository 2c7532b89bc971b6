#include "oci/auth_challenge.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace gpuop::oci {

absl::StatusOr<AuthChallenge> ParseAuthChallenge(const std::string& header) {
  AuthChallenge challenge;
  size_t at = 0;
  const auto skip_space = [&] {
    while (at < header.size() && (header[at] == ' ' || header[at] == '\t')) ++at;
  };
  skip_space();
  const size_t scheme_begin = at;
  while (at < header.size() && header[at] != ' ' && header[at] != '\t') ++at;
  challenge.scheme = absl::AsciiStrToLower(header.substr(scheme_begin, at - scheme_begin));
  if (challenge.scheme.empty()) {
    return absl::InvalidArgumentError("empty WWW-Authenticate header");
  }
  while (true) {
    skip_space();
    if (at >= header.size()) break;
    const size_t name_begin = at;
    while (at < header.size() && header[at] != '=' && header[at] != ',' && header[at] != ' ') ++at;
    const std::string name = absl::AsciiStrToLower(header.substr(name_begin, at - name_begin));
    skip_space();
    if (at >= header.size() || header[at] != '=') {
      return absl::InvalidArgumentError(
          absl::StrCat("WWW-Authenticate \"", header, "\": parameter \"", name, "\" has no value"));
    }
    ++at;
    skip_space();
    std::string value;
    if (at < header.size() && header[at] == '"') {
      ++at;
      bool closed = false;
      while (at < header.size()) {
        if (header[at] == '\\' && at + 1 < header.size()) {
          value += header[at + 1];
          at += 2;
          continue;
        }
        if (header[at] == '"') {
          ++at;
          closed = true;
          break;
        }
        value += header[at++];
      }
      if (!closed) {
        return absl::InvalidArgumentError(
            absl::StrCat("WWW-Authenticate \"", header, "\": unterminated quoted value"));
      }
    } else {
      const size_t value_begin = at;
      while (at < header.size() && header[at] != ',' && header[at] != ' ') ++at;
      value = header.substr(value_begin, at - value_begin);
    }
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("WWW-Authenticate \"", header, "\": a parameter without a name"));
    }
    challenge.params[name] = value;
    skip_space();
    if (at < header.size() && header[at] == ',') ++at;
  }
  return challenge;
}

}  // namespace gpuop::oci
