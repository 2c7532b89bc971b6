#include "oci/reference.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace gpuop::oci {
namespace {

// A repository path component: lower-case letters and digits, separated by '.', '_', '__' or
// runs of '-' (the distribution grammar), which this reads as "alphanumerics and those".
bool IsValidComponent(const std::string& component) {
  if (component.empty() || !absl::ascii_isalnum(static_cast<unsigned char>(component.front())) ||
      !absl::ascii_isalnum(static_cast<unsigned char>(component.back()))) {
    return false;
  }
  for (char c : component) {
    const bool ok = absl::ascii_islower(static_cast<unsigned char>(c)) ||
                    absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                    c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsValidTag(const std::string& tag) {
  if (tag.empty() || tag.size() > 128) return false;
  if (!absl::ascii_isalnum(static_cast<unsigned char>(tag[0])) && tag[0] != '_') return false;
  for (char c : tag) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

}  // namespace

bool IsSha256Digest(const std::string& digest) {
  if (!absl::StartsWith(digest, "sha256:") || digest.size() != 7 + 64) return false;
  for (size_t i = 7; i < digest.size(); ++i) {
    const char c = digest[i];
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

std::string Reference::ToString() const {
  std::string out = absl::StrCat(registry, "/", repository);
  if (!tag.empty()) absl::StrAppend(&out, ":", tag);
  if (!digest.empty()) absl::StrAppend(&out, "@", digest);
  return out;
}

absl::StatusOr<Reference> ParseReference(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("artifact reference \"", text, "\": ", why,
                     " (expected registry/repository:tag or registry/repository@sha256:...)"));
  };
  Reference ref;
  std::string rest = text;
  if (const size_t at = rest.find('@'); at != std::string::npos) {
    ref.digest = rest.substr(at + 1);
    rest.resize(at);
    if (!IsSha256Digest(ref.digest)) return bad("the digest is not sha256:<64 hex digits>");
  }
  // A ':' after the last '/' is the tag; one before it belongs to the registry's port.
  const size_t slash = rest.rfind('/');
  const size_t colon = rest.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    ref.tag = rest.substr(colon + 1);
    rest.resize(colon);
    if (!IsValidTag(ref.tag)) return bad(absl::StrCat("\"", ref.tag, "\" is not a valid tag"));
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  std::vector<std::string> components = absl::StrSplit(rest, '/');
  const std::string& first = components.front();
  if (components.size() > 1 && (first.find('.') != std::string::npos ||
                                first.find(':') != std::string::npos || first == "localhost")) {
    ref.registry = first;
    components.erase(components.begin());
  } else {
    ref.registry = "registry-1.docker.io";
    if (components.size() == 1) components.insert(components.begin(), "library");
  }
  if (ref.registry.empty()) return bad("no registry");
  for (const std::string& component : components) {
    if (!IsValidComponent(component)) {
      return bad(absl::StrCat("\"", component, "\" is not a valid repository name component"));
    }
  }
  ref.repository = absl::StrJoin(components, "/");
  return ref;
}

}  // namespace gpuop::oci
