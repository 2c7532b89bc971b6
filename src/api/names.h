#pragma once

// Name rules that the operator and the node agents must agree on. The operator refuses a policy
// whose names an agent would refuse in the config rendered from it (an agent refuses its whole
// config, so one bad entry would block every good one); both ask these functions, so the rule is
// written once and the two cannot drift apart.
//
//   if (!api::IsRuntimeClassName(name)) return Refuse(name, api::kRuntimeClassNameRule);

#include <cstddef>
#include <string_view>

namespace gpuop::api {

namespace internal {
constexpr bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
}  // namespace internal

// An RFC 1123 label as Kubernetes checks one (IsDNS1123Label): 1 to 63 lower-case letters,
// digits and '-', with a letter or digit at each end.
constexpr bool IsDnsLabel(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!internal::IsLowerAlnum(name.front()) || !internal::IsLowerAlnum(name.back())) return false;
  for (char c : name) {
    if (!internal::IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

// An RFC 1123 subdomain as Kubernetes checks one (IsDNS1123Subdomain): what most object names,
// Secrets' among them, must be. Up to 253 characters; '.'-separated parts of lower-case letters,
// digits and '-', each with a letter or digit at both ends.
constexpr bool IsDnsSubdomain(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '.') {
      // A part ends with a letter or digit, and the next one starts with one.
      if (i == 0 || i + 1 == name.size() || !internal::IsLowerAlnum(name[i - 1]) ||
          !internal::IsLowerAlnum(name[i + 1])) {
        return false;
      }
    } else if (name[i] != '-' && !internal::IsLowerAlnum(name[i])) {
      return false;
    }
  }
  return internal::IsLowerAlnum(name.front()) && internal::IsLowerAlnum(name.back());
}

// A Kata runtime class's name is its RuntimeClass's name and handler, containerd's runtime
// handler and a folder under the artifacts directory: the handler's rule, a DNS label, is the
// strictest of those, and rules out "..", "/" and anything else a path could make use of.
inline constexpr char kRuntimeClassNameRule[] =
    "a RuntimeClass handler is 1 to 63 lower-case letters, digits and '-', starting and ending "
    "with a letter or digit";
constexpr bool IsRuntimeClassName(std::string_view name) { return IsDnsLabel(name); }

}  // namespace gpuop::api
