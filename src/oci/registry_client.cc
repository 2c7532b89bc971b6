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

#include "common/unique_fd.h"
#include "oci/auth_challenge.h"
#include "oci/sha256.h"

namespace gpuop::oci {
namespace {

constexpr int kMaxRedirects = 5;

bool IsRedirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool WorthRetrying(long status) { return status == 429 || status >= 500; }

bool WorthRetrying(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

// "https://host:port/path" -> "host:port".
std::string HostOf(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t begin = scheme == std::string::npos ? 0 : scheme + 3;
  return url.substr(begin, url.find('/', begin) - begin);
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

// What a registry's error body says, shortened, for a message.
std::string ErrorText(const common::HttpResponse& response) {
  const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_object() && body.contains("errors") && body["errors"].is_array() &&
      !body["errors"].empty() && body["errors"][0].is_object()) {
    const nlohmann::json& first = body["errors"][0];
    return absl::StrCat(first.value("code", ""), ": ", first.value("message", ""));
  }
  return response.body.substr(0, 200);
}

absl::Status StatusFor(const common::HttpResponse& response, const std::string& what) {
  const std::string text =
      absl::StrCat(what, ": HTTP ", response.status, " (", ErrorText(response), ")");
  if (response.status == 401) return absl::UnauthenticatedError(text);
  if (response.status == 403) return absl::PermissionDeniedError(text);
  if (response.status == 404) return absl::NotFoundError(text);
  if (WorthRetrying(response.status)) return absl::UnavailableError(text);
  return absl::FailedPreconditionError(text);
}

}  // namespace

RegistryClient::RegistryClient(std::string registry, RegistryOptions options)
    : registry_(std::move(registry)),
      options_(std::move(options)),
      http_(common::TlsOptions{.ca_pem = options_.ca_pem}) {}

int64_t RegistryClient::Retries() const {
  absl::MutexLock lock(&mu_);
  return retries_;
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
    std::this_thread::sleep_for(std::min(wait, options_.max_backoff));
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
    return absl::UnimplementedError(
        absl::StrCat(registry_, " asks for \"", challenge->scheme, "\" auth, which gpuop lacks"));
  }
  const std::string realm = challenge->params["realm"];
  if (!absl::StartsWith(realm, "https://") && !absl::StartsWith(realm, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat(registry_, " sent a Bearer challenge without a usable realm: ", header));
  }
  std::string url = absl::StrCat(realm, realm.find('?') == std::string::npos ? "?" : "&");
  if (challenge->params.contains("service")) {
    absl::StrAppend(&url, "service=", QueryEscape(challenge->params["service"]), "&");
  }
  absl::StrAppend(&url, "scope=", QueryEscape(absl::StrCat("repository:", repository, ":pull")));
  std::vector<std::pair<std::string, std::string>> headers;
  if (credentials) headers.emplace_back("Authorization", basic);
  absl::StatusOr<common::HttpResponse> token = WithRetries(
      [&] { return http_.Send({.url = url, .headers = headers, .timeout = options_.timeout}); });
  if (!token.ok()) return token.status();
  if (token->status != 200) {
    return StatusFor(*token, absl::StrCat("token for ", repository, " from ", realm));
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
    return absl::InvalidArgumentError(absl::StrCat("the token server ", realm, " sent no token"));
  }
  return absl::StrCat("Bearer ", value);
}

absl::StatusOr<common::HttpResponse> RegistryClient::Get(
    const std::string& repository, const std::string& first_url,
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::chrono::milliseconds timeout, const ChunkSink* sink) {
  std::string url = first_url;
  bool authorized_again = false;
  for (int hop = 0; hop <= kMaxRedirects;) {
    std::vector<std::pair<std::string, std::string>> sent = headers;
    const bool same_host = HostOf(url) == registry_;
    if (same_host) {
      absl::MutexLock lock(&mu_);
      if (auto it = authorization_.find(repository); it != authorization_.end()) {
        sent.emplace_back("Authorization", it->second);
      }
    }
    absl::Status sink_error;
    absl::StatusOr<common::HttpResponse> response;
    if (sink == nullptr) {
      response = http_.Send({.url = url, .headers = sent, .timeout = timeout});
    } else {
      response = http_.Stream({.url = url, .headers = sent, .timeout = timeout},
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
      std::string location(response->Header("location"));
      if (location.empty()) return StatusFor(*response, "redirect without a Location");
      if (absl::StartsWith(location, "/")) location = absl::StrCat(BaseUrl(), location);
      url = location;
      ++hop;
      continue;
    }
    return response;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("more than ", kMaxRedirects, " redirects from ", first_url));
}

absl::StatusOr<FetchedManifest> RegistryClient::GetManifest(const std::string& repository,
                                                            const std::string& reference) {
  const std::string url = absl::StrCat(BaseUrl(), "/v2/", repository, "/manifests/", reference);
  const std::string accept =
      absl::StrCat(kOciManifest, ", ", kOciIndex, ", ", kDockerManifest, ", ", kDockerManifestList);
  absl::StatusOr<common::HttpResponse> response = WithRetries([&] {
    return Get(repository, url, {{"Accept", accept}}, options_.timeout, nullptr);
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
        return Get(repository, url, {}, options_.blob_timeout, &sink);
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
