#include "kube/rest_config.h"

#include <cstdlib>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include <yaml-cpp/yaml.h>

#include "common/files.h"
#include "common/status_macros.h"

namespace gpuop::kube {
namespace {

// One named entry of a kubeconfig list (clusters, users, contexts), with where it came from
// for error messages: `users[0] "admin"` in file f.
struct Entry {
  YAML::Node body;
  std::string where;
  std::string base_dir;
};

struct Kubeconfig {
  std::map<std::string, Entry> clusters, users, contexts;
  std::string current_context;
};

absl::Status Invalid(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", where, ": ", what));
}

// A scalar string field; empty when absent. yaml-cpp throws on type mismatches, so every
// access goes through here.
absl::StatusOr<std::string> StringField(const YAML::Node& node, const std::string& key,
                                        const std::string& where) {
  const YAML::Node value = node[key];
  if (!value || value.IsNull()) return std::string();
  if (!value.IsScalar()) return Invalid(where, absl::StrCat(key, " must be a string"));
  return value.Scalar();
}

absl::StatusOr<bool> BoolField(const YAML::Node& node, const std::string& key,
                               const std::string& where) {
  GPUOP_ASSIGN_OR_RETURN(std::string text, StringField(node, key, where));
  if (text.empty() || text == "false") return false;
  if (text == "true") return true;
  return Invalid(where, absl::StrCat(key, " must be true or false, not \"", text, "\""));
}

std::string ResolvePath(const std::string& path, const std::string& base_dir) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) return path;
  return absl::StrCat(base_dir, "/", path);
}

// PEM text from `<key>-data` (base64) or from the file `<key>`; the data form wins, as in
// client-go.
absl::StatusOr<std::string> PemField(const Entry& entry, const std::string& key) {
  GPUOP_ASSIGN_OR_RETURN(std::string data, StringField(entry.body, key + "-data", entry.where));
  if (!data.empty()) {
    std::string decoded;
    if (!absl::Base64Unescape(data, &decoded)) {
      return Invalid(entry.where, absl::StrCat(key, "-data is not base64"));
    }
    return decoded;
  }
  GPUOP_ASSIGN_OR_RETURN(std::string path, StringField(entry.body, key, entry.where));
  if (path.empty()) return std::string();
  absl::StatusOr<std::string> contents = common::ReadFile(ResolvePath(path, entry.base_dir));
  if (!contents.ok()) {
    return Invalid(entry.where, absl::StrCat(key, ": ", contents.status().message()));
  }
  return contents;
}

// Adds the entries of one list (`clusters`, ...) to `into`; names already there keep their
// first definition.
absl::Status CollectEntries(const YAML::Node& root, const std::string& list,
                            const std::string& body_key, const std::string& file,
                            const std::string& base_dir, std::map<std::string, Entry>& into) {
  const YAML::Node items = root[list];
  if (!items || items.IsNull()) return absl::OkStatus();
  if (!items.IsSequence()) return Invalid(file, absl::StrCat(list, " must be a list"));
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string where = absl::StrCat(file, ": ", list, "[", i, "]");
    if (!items[i].IsMap()) return Invalid(where, "must be a map with name and " + body_key);
    GPUOP_ASSIGN_OR_RETURN(std::string name, StringField(items[i], "name", where));
    if (name.empty()) return Invalid(where, "name is missing");
    const YAML::Node body = items[i][body_key];
    if (body && !body.IsMap() && !body.IsNull()) {
      return Invalid(absl::StrCat(where, " \"", name, "\""), body_key + " must be a map");
    }
    into.try_emplace(name, Entry{body ? body : YAML::Node(YAML::NodeType::Map),
                                 absl::StrCat(where, " \"", name, "\""), base_dir});
  }
  return absl::OkStatus();
}

absl::Status MergeKubeconfig(std::string_view text, const std::string& file,
                             const std::string& base_dir, Kubeconfig& into) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Invalid(file, absl::StrCat("not YAML: ", e.what()));
  }
  if (root.IsNull()) return absl::OkStatus();  // An empty file adds nothing.
  if (!root.IsMap()) return Invalid(file, "must be a YAML map");
  GPUOP_RETURN_IF_ERROR(CollectEntries(root, "clusters", "cluster", file, base_dir, into.clusters));
  GPUOP_RETURN_IF_ERROR(CollectEntries(root, "users", "user", file, base_dir, into.users));
  GPUOP_RETURN_IF_ERROR(CollectEntries(root, "contexts", "context", file, base_dir, into.contexts));
  if (into.current_context.empty()) {
    GPUOP_ASSIGN_OR_RETURN(into.current_context, StringField(root, "current-context", file));
  }
  return absl::OkStatus();
}

std::string NamesOf(const std::map<std::string, Entry>& entries) {
  std::vector<std::string> names;
  names.reserve(entries.size());
  for (const auto& [name, entry] : entries) names.push_back(name);
  return names.empty() ? "none" : absl::StrJoin(names, ", ");
}

absl::StatusOr<RestConfig> Resolve(const Kubeconfig& kubeconfig, const std::string& source,
                                   const std::string& context_flag) {
  const std::string context_name = context_flag.empty() ? kubeconfig.current_context : context_flag;
  if (context_name.empty()) {
    return Invalid(source, absl::StrCat("current-context is not set and no context was given "
                                        "(contexts: ",
                                        NamesOf(kubeconfig.contexts), ")"));
  }
  const auto context = kubeconfig.contexts.find(context_name);
  if (context == kubeconfig.contexts.end()) {
    return Invalid(source, absl::StrCat("context \"", context_name, "\" not found (contexts: ",
                                        NamesOf(kubeconfig.contexts), ")"));
  }
  const Entry& ctx = context->second;
  GPUOP_ASSIGN_OR_RETURN(std::string cluster_name, StringField(ctx.body, "cluster", ctx.where));
  GPUOP_ASSIGN_OR_RETURN(std::string user_name, StringField(ctx.body, "user", ctx.where));
  GPUOP_ASSIGN_OR_RETURN(std::string ns, StringField(ctx.body, "namespace", ctx.where));

  const auto cluster = kubeconfig.clusters.find(cluster_name);
  if (cluster == kubeconfig.clusters.end()) {
    return Invalid(ctx.where, absl::StrCat("cluster \"", cluster_name, "\" not found (clusters: ",
                                           NamesOf(kubeconfig.clusters), ")"));
  }
  const Entry& c = cluster->second;
  RestConfig config;
  if (!ns.empty()) config.default_namespace = ns;
  GPUOP_ASSIGN_OR_RETURN(config.server, StringField(c.body, "server", c.where));
  if (config.server.empty()) return Invalid(c.where, "server is missing");
  if (!config.server.starts_with("https://") && !config.server.starts_with("http://")) {
    return Invalid(c.where, absl::StrCat("server \"", config.server,
                                         "\" must start with https:// or http://"));
  }
  while (config.server.ends_with('/')) config.server.pop_back();
  GPUOP_ASSIGN_OR_RETURN(config.tls.ca_pem, PemField(c, "certificate-authority"));
  GPUOP_ASSIGN_OR_RETURN(config.tls.insecure_skip_verify,
                         BoolField(c.body, "insecure-skip-tls-verify", c.where));

  if (user_name.empty()) return config;  // Anonymous.
  const auto user = kubeconfig.users.find(user_name);
  if (user == kubeconfig.users.end()) {
    return Invalid(ctx.where, absl::StrCat("user \"", user_name, "\" not found (users: ",
                                           NamesOf(kubeconfig.users), ")"));
  }
  const Entry& u = user->second;
  for (const char* plugin : {"exec", "auth-provider"}) {
    if (u.body[plugin]) {
      return absl::UnimplementedError(
          absl::StrCat("kubeconfig ", u.where, ": ", plugin,
                       " credentials are not supported; use a client certificate or a token"));
    }
  }
  GPUOP_ASSIGN_OR_RETURN(config.tls.client_cert_pem, PemField(u, "client-certificate"));
  GPUOP_ASSIGN_OR_RETURN(config.tls.client_key_pem, PemField(u, "client-key"));
  if (config.tls.client_cert_pem.empty() != config.tls.client_key_pem.empty()) {
    return Invalid(u.where, config.tls.client_cert_pem.empty()
                                ? "client-key is set but client-certificate is not"
                                : "client-certificate is set but client-key is not");
  }
  GPUOP_ASSIGN_OR_RETURN(config.bearer_token, StringField(u.body, "token", u.where));
  GPUOP_ASSIGN_OR_RETURN(std::string token_file, StringField(u.body, "tokenFile", u.where));
  config.token_file = ResolvePath(token_file, u.base_dir);
  return config;
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string Env(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read at start-up.
  return value == nullptr ? "" : value;
}

bool Exists(const std::string& path) { return common::ReadFile(path).ok(); }

}  // namespace

absl::StatusOr<RestConfig> ParseKubeconfig(std::string_view text, const std::string& base_dir,
                                           const std::string& context) {
  Kubeconfig kubeconfig;
  GPUOP_RETURN_IF_ERROR(MergeKubeconfig(text, "(text)", base_dir, kubeconfig));
  return Resolve(kubeconfig, "(text)", context);
}

absl::StatusOr<RestConfig> LoadKubeconfig(const std::string& paths, const std::string& context) {
  Kubeconfig kubeconfig;
  bool any = false;
  const std::vector<std::string> files = absl::StrSplit(paths, ':', absl::SkipEmpty());
  for (const std::string& path : files) {
    absl::StatusOr<std::string> text = common::ReadFile(path);
    if (absl::IsNotFound(text.status())) continue;
    if (!text.ok()) return text.status();
    any = true;
    GPUOP_RETURN_IF_ERROR(MergeKubeconfig(*text, path, DirOf(path), kubeconfig));
  }
  if (!any) return absl::NotFoundError(absl::StrCat("no kubeconfig file at ", paths));
  return Resolve(kubeconfig, paths, context);
}

absl::StatusOr<RestConfig> LoadInCluster(const InClusterSources& sources) {
  if (sources.service_host.empty() || sources.service_port.empty()) {
    return absl::NotFoundError(
        "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
  }
  RestConfig config;
  // An IPv6 service address needs brackets in a URL.
  const bool ipv6 = sources.service_host.find(':') != std::string::npos;
  config.server = absl::StrCat("https://", ipv6 ? "[" : "", sources.service_host, ipv6 ? "]" : "",
                               ":", sources.service_port);
  config.token_file = sources.secrets_dir + "/token";
  if (!Exists(config.token_file)) {
    return absl::FailedPreconditionError(
        absl::StrCat("in-cluster config: no ServiceAccount token at ", config.token_file,
                     " (is automountServiceAccountToken off?)"));
  }
  absl::StatusOr<std::string> ca = common::ReadFile(sources.secrets_dir + "/ca.crt");
  if (!ca.ok())
    return absl::FailedPreconditionError(
        absl::StrCat("in-cluster config: ", ca.status().message()));
  config.tls.ca_pem = *std::move(ca);
  absl::StatusOr<std::string> ns = common::ReadFile(sources.secrets_dir + "/namespace");
  if (ns.ok() && !ns->empty())
    config.default_namespace = std::string(absl::StripAsciiWhitespace(*ns));
  return config;
}

absl::StatusOr<RestConfig> LoadRestConfig(const RestConfigSources& sources) {
  if (!sources.kubeconfig.empty()) {
    absl::StatusOr<RestConfig> config = LoadKubeconfig(sources.kubeconfig, sources.context);
    if (absl::IsNotFound(config.status())) {
      return absl::NotFoundError(
          absl::StrCat("--kubeconfig ", sources.kubeconfig, ": no such file"));
    }
    return config;
  }
  if (const std::string env = Env("KUBECONFIG"); !env.empty()) {
    absl::StatusOr<RestConfig> config = LoadKubeconfig(env, sources.context);
    if (!absl::IsNotFound(config.status())) return config;
  }
  absl::StatusOr<RestConfig> in_cluster =
      LoadInCluster({.service_host = Env("KUBERNETES_SERVICE_HOST"),
                     .service_port = Env("KUBERNETES_SERVICE_PORT")});
  if (!absl::IsNotFound(in_cluster.status())) return in_cluster;
  if (const std::string home = Env("HOME"); !home.empty()) {
    absl::StatusOr<RestConfig> config = LoadKubeconfig(home + "/.kube/config", sources.context);
    if (!absl::IsNotFound(config.status())) return config;
  }
  return absl::NotFoundError(
      "no Kubernetes config: pass --kubeconfig, set KUBECONFIG, run in a pod, or create "
      "~/.kube/config");
}

}  // namespace gpuop::kube
