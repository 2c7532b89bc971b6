// Any bytes as what a registry sends back to the Kata manager: a redirect's Location (with the
// URL it came from and the registry it is about), an error body. Whatever arrives, a redirect
// is followed only to http(s) on the hosts redirect_policy.h allows, and the only text of an
// error body that may reach a message is an error code of capitals and underscores.
//
// Input: four lines, "current URL\nLocation\nregistry host\nflags" (flags: 'p' plain http,
// 'b' a blob, 't' a token, 'r' the location's host is a token realm); the whole input is also
// an error body.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

#include "oci/redirect_policy.h"
#include "oci/registry_client.h"

namespace {

using gpuop::oci::RedirectOf;

bool PlainCode(const std::string& code) {
  if (code == "no error code") return true;
  if (code.empty() || code.size() > 40) return false;
  for (char c : code) {
    if (!(c >= 'A' && c <= 'Z') && c != '_') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (!PlainCode(gpuop::oci::RegistryErrorCode(text))) __builtin_trap();

  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  lines.resize(4);
  const std::string& flags = lines[3];
  gpuop::oci::RedirectScope scope{.registry = lines[2],
                                  .plain_http = absl::StrContains(flags, 'p')};
  if (absl::StrContains(flags, 'r')) scope.realm_hosts.insert(gpuop::oci::UrlHost(lines[1]));
  const RedirectOf what = absl::StrContains(flags, 'b')   ? RedirectOf::kBlob
                          : absl::StrContains(flags, 't') ? RedirectOf::kToken
                                                          : RedirectOf::kManifest;
  absl::StatusOr<std::string> next = gpuop::oci::NextHop(lines[0], lines[1], scope, what);
  if (!next.ok()) return 0;
  const std::string host = gpuop::oci::UrlHost(*next);
  const bool https = absl::StartsWith(*next, "https://");
  const bool http = absl::StartsWith(*next, "http://");
  if (host.empty() || (!https && !http)) __builtin_trap();
  // Plain http only for a plain-http registry; never to a host that is not the registry's.
  if (http && !scope.plain_http) __builtin_trap();
  // No credentials in the URL: the authority holds no '@'.
  const std::string after = next->substr(next->find("://") + 3);
  if (absl::StrContains(after.substr(0, after.find_first_of("/?#")), '@')) __builtin_trap();
  const bool known =
      host == gpuop::oci::UrlHost(absl::StrCat(https ? "https://" : "http://", scope.registry)) ||
      scope.realm_hosts.contains(host);
  if (what != RedirectOf::kBlob && !known) __builtin_trap();
  if (!known && gpuop::oci::IsInternalAddress(host)) __builtin_trap();
  return 0;
}
