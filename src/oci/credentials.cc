#include "oci/credentials.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace gpuop::oci {
namespace {

// "https://nvcr.io/v1/" -> "nvcr.io".
std::string HostOf(const std::string& key) {
  absl::string_view view = key;
  absl::ConsumePrefix(&view, "https://");
  absl::ConsumePrefix(&view, "http://");
  return std::string(view.substr(0, view.find('/')));
}

bool SameRegistry(const std::string& key, const std::string& registry) {
  const std::string host = HostOf(key);
  if (host == registry) return true;
  const auto is_hub = [](const std::string& name) {
    return name == "docker.io" || name == "index.docker.io" || name == "registry-1.docker.io";
  };
  return is_hub(host) && is_hub(registry);
}

}  // namespace

absl::StatusOr<std::optional<Credentials>> CredentialsFor(const std::string& docker_config_json,
                                                          const std::string& registry) {
  const nlohmann::json config =
      nlohmann::json::parse(docker_config_json, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object() || !config.contains("auths") || !config["auths"].is_object()) {
    return absl::InvalidArgumentError(
        "the pull secret is not a docker config (.dockerconfigjson needs an \"auths\" object)");
  }
  for (const auto& item : config["auths"].items()) {
    // Named, not bound: clang 14 cannot capture a structured binding in the lambda below.
    const std::string& key = item.key();
    const nlohmann::json& entry = item.value();
    if (!SameRegistry(key, registry)) continue;
    if (!entry.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat("auths[\"", key, "\"] is not an object"));
    }
    Credentials found;
    const auto text = [&](const char* name) {
      return entry.contains(name) && entry[name].is_string() ? entry[name].get<std::string>()
                                                             : std::string();
    };
    found.username = text("username");
    found.password = text("password");
    if (found.username.empty() && !text("auth").empty()) {
      std::string decoded;
      if (!absl::Base64Unescape(text("auth"), &decoded) || decoded.find(':') == std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("auths[\"", key, "\"].auth is not base64 of user:password"));
      }
      found.username = decoded.substr(0, decoded.find(':'));
      found.password = decoded.substr(decoded.find(':') + 1);
    }
    if (found.username.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("auths[\"", key, "\"] has neither username/password nor auth"));
    }
    return found;
  }
  return std::nullopt;
}

}  // namespace gpuop::oci
