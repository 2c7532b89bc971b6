#include "oci/registry_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "common/printable.h"
#include "common/unique_fd.h"
#include "oci/auth_challenge.h"
#include "oci/redirect_policy.h"
#include "oci/sha256.h"

namespace gpuop::oci {
namespace {

using common::Printable;

bool IsRedirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool WorthRetrying(long status) { return status == 429 || status >= 500; }

bool WorthRetrying(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

// Percent-encodes a query value (a scope holds ':' and '/').
std::string QueryEscape(const std::string& value) {
  std::string out;
  for (unsigned char c : value) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      absl::StrAppend(&out, "%", absl::BytesToHexString(std::string(1, static_cast<char>(c))));
    }
  }
  return out;
}

absl::Status StatusFor(const common::HttpResponse& response, const std::string& what) {
  const std::string text =
      absl::StrCat(what, ": HTTP ", response.status, " (", RegistryErrorCode(response.body), ")");
  if (response.status == 401) return absl::UnauthenticatedError(text);
  if (response.status == 403) return absl::PermissionDeniedError(text);
  if (response.status == 404) return absl::NotFoundError(text);
  if (WorthRetrying(response.status)) return absl::UnavailableError(text);
  return absl::FailedPreconditionError(text);
}

}  // namespace

std::string RegistryErrorCode(std::string_view body) {
  const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.contains("errors") && parsed["errors"].is_array() &&
      !parsed["errors"].empty() && parsed["errors"][0].is_object()) {
    const nlohmann::json& first = parsed["errors"][0];
    std::string code = first.contains("code") && first["code"].is_string()
                           ? first["code"].get<std::string>()
                           : std::string();
    const bool plain =
        !code.empty() && code.size() <= 40 && std::all_of(code.begin(), code.end(), [](char c) {
          return absl::ascii_isupper(static_cast<unsigned char>(c)) || c == '_';
        });
    if (plain) return code;
  }
  return "no error code";
}

RegistryClient::RegistryClient(std::string registry, RegistryOptions options)
    : registry_(std::move(registry)),
      options_(std::move(options)),
      http_(common::TlsOptions{.ca_pem = options_.ca_pem}) {}

int64_t RegistryClient::Retries() const {
  absl::MutexLock lock(&mu_);
  return retries_;
}

common::HttpRequest RegistryClient::Request(
    const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
    std::chrono::milliseconds timeout, size_t max_body) const {
  return {.url = url,
          .headers = headers,
          .timeout = timeout,
          .cancel = options_.stop == nullptr ? nullptr : options_.stop->Flag(),
          .max_body = max_body};
}

std::string RegistryClient::BaseUrl() const {
  return absl::StrCat(options_.plain_http ? "http://" : "https://", registry_);
}

absl::StatusOr<common::HttpResponse> RegistryClient::WithRetries(
    const std::function<absl::StatusOr<common::HttpResponse>()>& call) {
  std::chrono::milliseconds backoff = options_.first_backoff;
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<common::HttpResponse> response = call();
    const bool retry =
        response.ok() ? WorthRetrying(response->status) : WorthRetrying(response.status());
    if (!retry || attempt >= options_.attempts) return response;
    {
      absl::MutexLock lock(&mu_);
      ++retries_;
    }
    std::chrono::milliseconds wait = backoff;
    // A registry that says how long to wait is believed, within the cap.
    if (response.ok()) {
      const std::optional<std::chrono::seconds> asked = response->RetryAfter();
      if (asked.has_value() && asked->count() > 0) wait = *asked;
    }
    const std::chrono::milliseconds capped = std::min(wait, options_.max_backoff);
    if (options_.stop == nullptr) {
      std::this_thread::sleep_for(capped);
    } else if (options_.stop->SleepFor(capped)) {
      return absl::CancelledError("stopping: the registry call was not retried");
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

absl::StatusOr<std::string> RegistryClient::Authorize(const std::string& repository,
                                                      const std::string& header) {
  absl::StatusOr<AuthChallenge> challenge = ParseAuthChallenge(header);
  if (!challenge.ok()) return challenge.status();
  const std::optional<Credentials>& credentials = options_.credentials;
  const std::string basic =
      credentials ? absl::StrCat("Basic ", absl::Base64Escape(absl::StrCat(
                                               credentials->username, ":", credentials->password)))
                  : std::string();
  if (challenge->scheme == "basic") {
    if (!credentials) {
      return absl::UnauthenticatedError(absl::StrCat(
          registry_, " wants credentials (Basic); name a pull secret for this artifact"));
    }
    return basic;
  }
  if (challenge->scheme != "bearer") {
    return absl::UnimplementedError(absl::StrCat(
        registry_, " asks for \"", Printable(challenge->scheme, 20), "\" auth, which gpuop lacks"));
  }
  const std::string realm = challenge->params["realm"];
  if (absl::Status usable = CheckRealm(realm); !usable.ok()) return usable;
  std::string url = absl::StrCat(realm, realm.find('?') == std::string::npos ? "?" : "&");
  if (challenge->params.contains("service")) {
    absl::StrAppend(&url, "service=", QueryEscape(challenge->params["service"]), "&");
  }
  absl::StrAppend(&url, "scope=", QueryEscape(absl::StrCat("repository:", repository, ":pull")));
  std::vector<std::pair<std::string, std::string>> headers;
  if (credentials) headers.emplace_back("Authorization", basic);
  absl::StatusOr<common::HttpResponse> token = WithRetries(
      [&] { return http_.Send(Request(url, headers, options_.timeout, kMaxSmallReplyBytes)); });
  if (!token.ok()) return token.status();
  if (token->status != 200) {
    return StatusFor(*token, absl::StrCat("token for ", repository, " from ", UrlHost(realm)));
  }
  const nlohmann::json body = nlohmann::json::parse(token->body, nullptr, false);
  std::string value;
  if (body.is_object()) {
    if (body.contains("token") && body["token"].is_string())
      value = body["token"];
    else if (body.contains("access_token") && body["access_token"].is_string())
      value = body["access_token"];
  }
  if (value.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the token server ", UrlHost(realm), " sent no token"));
  }
  return absl::StrCat("Bearer ", value);
}

absl::Status RegistryClient::CheckRealm(const std::string& realm) {
  const std::string host = UrlHost(realm);
  const bool https = absl::StartsWith(realm, "https://");
  // Plain http only for a registry the admin listed as plain-http (a loopback test registry).
  const bool http = absl::StartsWith(realm, "http://") && options_.plain_http;
  if (host.empty() || (!https && !http)) {
    return absl::InvalidArgumentError(absl::StrCat(
        registry_, " sent a Bearer challenge whose realm is not an https URL; not followed"));
  }
  // The pull secret's credentials go to the realm: never to an internal address the registry
  // itself is not on.
  if (IsInternalAddress(host) && !IsInternalAddress(registry_)) {
    return absl::PermissionDeniedError(
        absl::StrCat(registry_, " named ", Printable(host, 100),
                     ", an internal address, as its token realm; not followed"));
  }
  absl::MutexLock lock(&mu_);
  realm_hosts_.insert(host);
  return absl::OkStatus();
}

absl::StatusOr<common::HttpResponse> RegistryClient::Get(
    const std::string& repository, const std::string& first_url, RedirectOf what,
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::chrono::milliseconds timeout, const ChunkSink* sink) {
  std::string url = first_url;
  bool authorized_again = false;
  const std::string registry = UrlHost(BaseUrl());
  for (int hop = 0; hop <= kMaxRedirects;) {
    std::vector<std::pair<std::string, std::string>> sent = headers;
    // The registry's Authorization goes to the registry alone, not to where it redirects.
    const bool same_host = UrlHost(url) == registry;
    if (same_host) {
      absl::MutexLock lock(&mu_);
      if (auto it = authorization_.find(repository); it != authorization_.end()) {
        sent.emplace_back("Authorization", it->second);
      }
    }
    absl::Status sink_error;
    absl::StatusOr<common::HttpResponse> response;
    if (sink == nullptr) {
      response = http_.Send(Request(url, sent, timeout, kMaxManifestBytes));
    } else {
      response = http_.Stream(Request(url, sent, timeout, kMaxSmallReplyBytes),
                              [&](std::string_view chunk) {
                                sink_error = (*sink)(chunk);
                                return sink_error.ok();
                              });
    }
    if (!sink_error.ok()) return sink_error;
    if (!response.ok()) return response;
    if (response->status == 401 && same_host && !authorized_again) {
      absl::StatusOr<std::string> authorization =
          Authorize(repository, std::string(response->Header("www-authenticate")));
      if (!authorization.ok()) return authorization.status();
      absl::MutexLock lock(&mu_);
      authorization_[repository] = *authorization;
      authorized_again = true;
      continue;
    }
    if (IsRedirect(response->status)) {
      const std::string_view location = response->Header("location");
      if (location.empty()) return StatusFor(*response, "redirect without a Location");
      RedirectScope scope{.registry = registry_, .plain_http = options_.plain_http};
      {
        absl::MutexLock lock(&mu_);
        scope.realm_hosts = realm_hosts_;
      }
      absl::StatusOr<std::string> next = NextHop(url, location, scope, what);
      if (!next.ok()) return next.status();
      url = *std::move(next);
      ++hop;
      continue;
    }
    return response;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("more than ", kMaxRedirects, " redirects from ", UrlHost(first_url)));
}

absl::StatusOr<FetchedManifest> RegistryClient::GetManifest(const std::string& repository,
                                                            const std::string& reference) {
  const std::string url = absl::StrCat(BaseUrl(), "/v2/", repository, "/manifests/", reference);
  const std::string accept =
      absl::StrCat(kOciManifest, ", ", kOciIndex, ", ", kDockerManifest, ", ", kDockerManifestList);
  absl::StatusOr<common::HttpResponse> response = WithRetries([&] {
    return Get(repository, url, RedirectOf::kManifest, {{"Accept", accept}}, options_.timeout,
               nullptr);
  });
  if (!response.ok()) return response.status();
  const std::string what = absl::StrCat("manifest ", registry_, "/", repository, ":", reference);
  if (response->status != 200) return StatusFor(*response, what);
  FetchedManifest manifest{.media_type = std::string(response->Header("content-type")),
                           .digest = Sha256Digest(response->body),
                           .body = std::move(response->body)};
  if (absl::StartsWith(reference, "sha256:") && manifest.digest != reference) {
    return absl::DataLossError(
        absl::StrCat(what, ": the registry sent content with digest ", manifest.digest));
  }
  return manifest;
}

absl::Status RegistryClient::DownloadBlob(const std::string& repository, const Descriptor& blob,
                                          const std::string& path, const BlobProgress& progress) {
  const std::string url = absl::StrCat(BaseUrl(), "/v2/", repository, "/blobs/", blob.digest);
  const std::string what = absl::StrCat("blob ", blob.digest, " of ", registry_, "/", repository);
  // The bytes go to a temp file beside `path` (a name of its own, so it cannot be another
  // layer's), renamed to it only once size and digest match: `path` never holds a partial or
  // corrupt blob.
  const std::filesystem::path target(path);
  std::string partial =
      (target.parent_path() / ("." + target.filename().string() + ".partial-XXXXXX")).string();
  common::UniqueFd fd(::mkostemp(partial.data(), O_CLOEXEC));
  if (!fd.Valid()) {
    return absl::InternalError(
        absl::StrCat("create a temp file for ", path, ": ",
                     std::error_code(errno, std::generic_category()).message()));
  }
  Sha256 hash;
  int64_t written = 0;
  const ChunkSink sink = [&](std::string_view chunk) -> absl::Status {
    written += static_cast<int64_t>(chunk.size());
    if (written > blob.size) {
      return absl::DataLossError(
          absl::StrCat(what, ": more than the manifest's ", blob.size, " bytes arrived"));
    }
    hash.Update(chunk);
    for (size_t done = 0; done < chunk.size();) {
      const ssize_t n = ::write(fd.Get(), chunk.data() + done, chunk.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::InternalError(absl::StrCat(
            "write ", partial, ": ", std::error_code(errno, std::generic_category()).message()));
      }
      done += static_cast<size_t>(n);
    }
    if (progress) progress(written, blob.size);
    return absl::OkStatus();
  };
  absl::Status data_error;
  absl::StatusOr<common::HttpResponse> response =
      WithRetries([&]() -> absl::StatusOr<common::HttpResponse> {
        // Each try starts the file over.
        if (::ftruncate(fd.Get(), 0) != 0 || ::lseek(fd.Get(), 0, SEEK_SET) != 0) {
          return absl::InternalError(
              absl::StrCat("truncate ", partial, ": ",
                           std::error_code(errno, std::generic_category()).message()));
        }
        hash.Reset();
        written = 0;
        return Get(repository, url, RedirectOf::kBlob, {}, options_.blob_timeout, &sink);
      });
  absl::Status result;
  if (!response.ok()) {
    result = response.status();
  } else if (response->status != 200) {
    result = StatusFor(*response, what);
  } else if (written != blob.size) {
    result = absl::DataLossError(
        absl::StrCat(what, ": ", written, " bytes arrived, the manifest says ", blob.size));
  } else if (const std::string digest = hash.Digest(); digest != blob.digest) {
    result =
        absl::DataLossError(absl::StrCat(what, ": the content's digest is ", digest,
                                         "; the blob is corrupt in the registry or on the way"));
  } else if (::fsync(fd.Get()) != 0) {
    result = absl::InternalError(absl::StrCat(
        "fsync ", partial, ": ", std::error_code(errno, std::generic_category()).message()));
  }
  // mkstemp makes it 0600; the installed files are read by the Kata shim like any other.
  if (result.ok() && ::fchmod(fd.Get(), 0644) != 0) {
    result = absl::InternalError(absl::StrCat(
        "chmod ", partial, ": ", std::error_code(errno, std::generic_category()).message()));
  }
  fd.Reset();
  if (result.ok() && ::rename(partial.c_str(), path.c_str()) != 0) {
    result = absl::InternalError(
        absl::StrCat("rename ", partial, " to ", path, ": ",
                     std::error_code(errno, std::generic_category()).message()));
  }
  if (!result.ok()) {
    std::error_code ignored;
    std::filesystem::remove(partial, ignored);
  }
  return result;
}

}  // namespace gpuop::oci
