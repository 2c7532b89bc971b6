#include "operands/kata_manager/kata_node_reporter.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "api/labels.h"
#include "kube/resource.h"

namespace gpuop::operands {

using nlohmann::json;

KataNodeReporter::KataNodeReporter(kube::RestClient& client, kube::EventRecorder& recorder,
                                   std::string node_name, std::string ns, common::Logger& log)
    : client_(client),
      recorder_(recorder),
      node_name_(std::move(node_name)),
      ns_(std::move(ns)),
      log_(log) {}

absl::StatusOr<std::map<std::string, std::string>> KataNodeReporter::NodeLabels() {
  absl::StatusOr<json> node = client_.Get(kube::resources::kNodes, "", node_name_);
  if (!node.ok()) return node.status();
  node_ = kube::ReferenceTo(*node);
  std::map<std::string, std::string> labels;
  const json& metadata = (*node)["metadata"];
  if (metadata.contains("labels") && metadata["labels"].is_object()) {
    for (const auto& item : metadata["labels"].items()) {
      if (item.value().is_string()) labels[item.key()] = item.value().get<std::string>();
    }
  }
  return labels;
}

absl::StatusOr<std::string> KataNodeReporter::ContainerRuntimeVersion() {
  absl::StatusOr<json> node = client_.Get(kube::resources::kNodes, "", node_name_);
  if (!node.ok()) return node.status();
  const json& info = (*node)["status"]["nodeInfo"];
  if (!info.is_object() || !info.contains("containerRuntimeVersion") ||
      !info["containerRuntimeVersion"].is_string()) {
    return absl::NotFoundError("the node reports no container runtime yet");
  }
  return info["containerRuntimeVersion"].get<std::string>();
}

absl::StatusOr<std::string> KataNodeReporter::PullSecret(const std::string& name) {
  absl::StatusOr<json> secret = client_.Get(kube::resources::kSecrets, ns_, name);
  if (!secret.ok()) return secret.status();
  const json& data = (*secret)["data"];
  if (!data.is_object() || !data.contains(".dockerconfigjson") ||
      !data[".dockerconfigjson"].is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("secret ", ns_, "/", name,
                     " has no .dockerconfigjson (a kubernetes.io/dockerconfigjson "
                     "secret is needed)"));
  }
  std::string decoded;
  if (!absl::Base64Unescape(data[".dockerconfigjson"].get<std::string>(), &decoded)) {
    return absl::InvalidArgumentError(
        absl::StrCat("secret ", ns_, "/", name, ": .dockerconfigjson is not base64"));
  }
  return decoded;
}

void KataNodeReporter::Report(const KataPassReport& report) {
  json digests = json::object();
  for (const InstalledArtifact& installed : report.installed)
    digests[installed.name] = installed.digest;
  const std::string annotation = digests.dump();
  if (annotation != annotated_) {
    const json patch = {
        {"metadata", {{"annotations", {{api::kKataArtifactsAnnotation, annotation}}}}}};
    if (absl::StatusOr<json> patched =
            client_.MergePatch(kube::resources::kNodes, "", node_name_, patch);
        patched.ok()) {
      annotated_ = annotation;
    } else {
      log_.Warn("cannot annotate the node with the installed artifacts",
                {{"node", node_name_}, {"error", std::string(patched.status().message())}});
    }
  }
  if (!node_) return;  // Never read the node: nothing to put Events on.
  // reason/subject -> the Warning's note; keyed by reason so that no class name can pass for
  // the containerd notice.
  struct Warning {
    const char* reason;
    const char* action;
    std::string note;
  };
  std::map<std::string, Warning> now;
  for (const auto& [name, message] : report.failures) {
    now[absl::StrCat("KataArtifactsFailed/", name)] = {
        "KataArtifactsFailed", "InstallArtifacts",
        absl::StrCat("runtime class ", name, ": ", message)};
  }
  if (!report.containerd_error.empty()) {
    now["ContainerdConfigFailed"] = {"ContainerdConfigFailed", "RegisterRuntimeHandlers",
                                     report.containerd_error};
  }
  for (const auto& [key, warning] : now) {
    if (warned_.contains(key) && warned_[key] == warning.note) continue;
    if (recorder_.Warning(*node_, warning.reason, warning.action, warning.note).ok()) {
      warned_[key] = warning.note;
    }
  }
  for (auto it = warned_.begin(); it != warned_.end();) {
    it = now.contains(it->first) ? std::next(it) : warned_.erase(it);
  }
  for (const InstalledArtifact& installed : report.installed) {
    if (!installed.downloaded) continue;
    (void)recorder_.Normal(*node_, "KataArtifactsInstalled", "InstallArtifacts",
                           absl::StrCat("runtime class ", installed.name, ": ",
                                        installed.files.size(), " files at ", installed.digest));
  }
}

}  // namespace gpuop::operands
