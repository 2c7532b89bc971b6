#include "oci/redirect_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "common/printable.h"

namespace gpuop::oci {
namespace {

using common::Printable;

struct UrlParts {
  std::string scheme;  // Lower case.
  std::string host;    // "host[:port]", lower case, the scheme's default port taken off.
  std::string rest;    // From the first '/' after the host ("/v2/..."), or empty.
  bool has_userinfo = false;
};

bool ParseUrl(const std::string& url, UrlParts& parts) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos || scheme_end == 0) return false;
  parts.scheme = absl::AsciiStrToLower(url.substr(0, scheme_end));
  const std::string after = url.substr(scheme_end + 3);
  const size_t host_end = after.find_first_of("/?#");
  std::string authority = after.substr(0, host_end);
  parts.rest = host_end == std::string::npos ? "" : after.substr(host_end);
  if (const size_t at = authority.rfind('@'); at != std::string::npos) {
    parts.has_userinfo = true;
    authority = authority.substr(at + 1);
  }
  parts.host = absl::AsciiStrToLower(authority);
  const std::string default_port = parts.scheme == "https" ? ":443" : ":80";
  if (absl::EndsWith(parts.host, default_port)) {
    parts.host.resize(parts.host.size() - default_port.size());
  }
  return !parts.host.empty();
}

std::string NormalHost(const std::string& host, bool https) {
  std::string normal = absl::AsciiStrToLower(host);
  const std::string default_port = https ? ":443" : ":80";
  if (absl::EndsWith(normal, default_port)) normal.resize(normal.size() - default_port.size());
  return normal;
}

bool InternalV4(uint32_t address) {  // Host byte order.
  const auto in = [&](uint32_t network, int bits) {
    const uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
    return (address & mask) == network;
  };
  return in(0x00000000, 8) ||   // 0.0.0.0/8: "this host"
         in(0x0a000000, 8) ||   // 10/8
         in(0x64400000, 10) ||  // 100.64/10, carrier-grade NAT
         in(0x7f000000, 8) ||   // loopback
         in(0xa9fe0000, 16) ||  // 169.254/16, link-local (cloud metadata services)
         in(0xac100000, 12) ||  // 172.16/12
         in(0xc0a80000, 16) ||  // 192.168/16
         address == 0xffffffff;
}

}  // namespace

std::string UrlHost(std::string_view url) {
  UrlParts parts;
  return ParseUrl(std::string(url), parts) ? parts.host : std::string();
}

bool IsInternalAddress(std::string_view host_and_port) {
  std::string host(host_and_port);
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string::npos) return true;  // Not a host anyone could mean.
    host = host.substr(1, close - 1);
    in6_addr v6{};
    if (::inet_pton(AF_INET6, host.c_str(), &v6) != 1) return true;
    const uint8_t* b = v6.s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&v6) || IN6_IS_ADDR_V4COMPAT(&v6)) {
      return InternalV4(uint32_t{b[12]} << 24 | uint32_t{b[13]} << 16 | uint32_t{b[14]} << 8 |
                        b[15]);
    }
    return IN6_IS_ADDR_UNSPECIFIED(&v6) || IN6_IS_ADDR_LOOPBACK(&v6) ||
           IN6_IS_ADDR_LINKLOCAL(&v6) || (b[0] & 0xfe) == 0xfc;  // fc00::/7, unique local
  }
  if (const size_t colon = host.rfind(':'); colon != std::string::npos) host.resize(colon);
  host = absl::AsciiStrToLower(host);
  while (!host.empty() && host.back() == '.') host.pop_back();
  if (host == "localhost" || absl::EndsWith(host, ".localhost")) return true;
  // inet_aton reads every form curl's resolver does ("127.1", "0x7f.0.0.1", "2130706433").
  in_addr v4{};
  if (::inet_aton(host.c_str(), &v4) == 1) return InternalV4(ntohl(v4.s_addr));
  return false;
}

absl::StatusOr<std::string> NextHop(std::string_view current_view, std::string_view location_view,
                                    const RedirectScope& scope, RedirectOf what) {
  const std::string current_url(current_view);
  const std::string location(location_view);
  UrlParts current;
  if (!ParseUrl(current_url, current)) {
    return absl::InvalidArgumentError("a redirect from a URL without a scheme");
  }
  std::string next;
  if (absl::StartsWith(location, "//")) {
    next = absl::StrCat(current.scheme, ":", location);
  } else if (absl::StartsWith(location, "/")) {
    next = absl::StrCat(current.scheme, "://", current.host, location);
  } else {
    next = location;
  }
  UrlParts to;
  const bool parsed = ParseUrl(next, to);
  // The scheme in lower case ("HTTPS://" is https): what is checked is what is followed.
  if (parsed) next = absl::StrCat(to.scheme, next.substr(next.find("://")));
  if (!parsed) {
    return absl::PermissionDeniedError(
        "the registry redirected to a location that is not an absolute http(s) URL or path; "
        "not followed");
  }
  const std::string registry = NormalHost(scope.registry, !scope.plain_http);
  const std::string where = Printable(to.host, 100);
  if (to.has_userinfo) {
    return absl::PermissionDeniedError(absl::StrCat("the registry redirected to ", where,
                                                    " with credentials in the URL; not followed"));
  }
  if (to.scheme == "http") {
    if (!scope.plain_http || to.host != registry) {
      return absl::PermissionDeniedError(
          absl::StrCat("the registry redirected to plain http on ", where,
                       "; only a plain-http registry may, and only to itself. Not followed"));
    }
    return next;
  }
  if (to.scheme != "https") {
    return absl::PermissionDeniedError(absl::StrCat("the registry redirected to a \"",
                                                    Printable(to.scheme, 20),
                                                    "\" URL; only https is followed"));
  }
  const bool known_host = to.host == registry || scope.realm_hosts.contains(to.host);
  if (known_host) return next;
  if (what != RedirectOf::kBlob) {
    return absl::PermissionDeniedError(
        absl::StrCat("the registry redirected a ",
                     what == RedirectOf::kToken ? "token" : "manifest", " request to ", where,
                     ", which is neither the registry nor its token realm; not followed"));
  }
  if (IsInternalAddress(to.host)) {
    return absl::PermissionDeniedError(
        absl::StrCat("the registry redirected a blob to ", where,
                     ", an internal address (loopback, private or link-local); not followed"));
  }
  return next;
}

}  // namespace gpuop::oci
