#pragma once

// Where a registry's redirect may lead. A registry is a remote party that the ClusterPolicy's
// author names, and its replies come back into an agent that runs privileged on a GPU host, so
// a Location is taken only when it stays on the protocol and hosts the pull is about:
//   - http and https only, and plain http only where the registry itself is a plain-http one,
//     and then only to that same host (a loopback test registry);
//   - a manifest or a token may move only to the registry's host or to a host its token realm
//     names (where the registry sent us to authenticate);
//   - a blob may also move to storage on another https host, since registries serve blobs from
//     CDNs and object stores (Docker Hub, GHCR, Quay, ACR data endpoints). That is safe
//     enough: a blob is kept only if its size and SHA-256 match the manifest, no credential goes
//     to another host, and no byte of its reply reaches an error text. An address literal in a
//     loopback, private or link-local range (a cloud's metadata service, a node's own ports) is
//     refused even there.
// At most kMaxRedirects hops per call.
//
//   absl::StatusOr<std::string> next = NextHop(current_url, location, scope, RedirectOf::kBlob);

#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace gpuop::oci {

inline constexpr int kMaxRedirects = 5;

enum class RedirectOf { kManifest, kToken, kBlob };

struct RedirectScope {
  std::string registry;  // "host[:port]" as the reference names it.
  bool plain_http = false;
  std::set<std::string> realm_hosts;  // "host[:port]" of the token realms the registry named.
};

// The absolute URL `location` (absolute, scheme-relative "//host/x" or path "/x") leads to from
// `current_url`, or PermissionDenied saying why it is not followed. The message names the host,
// never the path or query (a signed storage URL is a credential).
absl::StatusOr<std::string> NextHop(std::string_view current_url, std::string_view location,
                                    const RedirectScope& scope, RedirectOf what);

// "https://Host:443/x?y" -> "host:443" (lower case); empty when the URL has no "scheme://".
std::string UrlHost(std::string_view url);

// Whether "host[:port]" is an address literal (IPv4, or IPv6 in brackets) in a loopback,
// private, shared, link-local or unspecified range, or "localhost".
bool IsInternalAddress(std::string_view host);

}  // namespace gpuop::oci
