#include "operator/precompiled_driver.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

#include "api/names.h"
#include "common/printable.h"
#include "operator/container_node_facts.h"

namespace gpuop::op {
namespace {

using nlohmann::json;

constexpr char kDriverDaemonSet[] = "nvidia-driver-daemonset";
constexpr char kPrecompiledLabel[] = "nvidia.com/precompiled";
// Ours: one driver DaemonSet's pods from another's, in the selector.
constexpr char kPrecompiledKernelLabel[] = "nvidia.com/precompiled.kernel-version";

bool IsDigest(std::string_view image) { return image.find("@sha256:") != std::string_view::npos; }

std::string Quoted(std::string_view value) {
  return absl::StrCat("\"", common::Printable(value, 256), "\"");
}

}  // namespace

std::string SanitizedKernel(std::string_view kernel) {
  // Longest first, so that "aarch64_64k" goes whole.
  std::string sanitized = absl::StrReplaceAll(
      std::string(kernel), {{"aarch64_64k", ""}, {"x86_64", ""}, {"aarch64", ""}});
  std::replace(sanitized.begin(), sanitized.end(), '_', '.');
  while (!sanitized.empty() && sanitized.back() == '.') sanitized.pop_back();
  std::transform(sanitized.begin(), sanitized.end(), sanitized.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return sanitized;
}

absl::StatusOr<std::vector<PrecompiledDriverBuild>> PrecompiledDriverBuilds(
    const api::ClusterPolicy& policy, const RenderContext& context, std::string_view base_image) {
  for (const auto& [key, what] : {std::pair{"gds", "GPUDirect Storage (nvidia-fs)"},
                                  std::pair{"gdrcopy", "GDRCopy (gdrdrv)"}}) {
    if (policy.OperandEnabled(key)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "spec.", key, ".enabled: ", what,
          " builds its module on the node against the driver's sources, which a precompiled "
          "driver does not publish; turn it off or set spec.driver.usePrecompiled false"));
    }
  }
  if (context.container_nodes_without_kernel > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "spec.driver.usePrecompiled: ", context.container_nodes_without_kernel,
        " container GPU node(s) have no ", kNfdKernelLabel,
        " label (Node Feature Discovery's), so no precompiled driver can be chosen for them"));
  }
  const bool digest = IsDigest(base_image);
  std::vector<PrecompiledDriverBuild> builds;
  for (const auto& [kernel, os_tags] : context.container_kernels) {
    if (os_tags.size() > 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("spec.driver.usePrecompiled: the nodes of kernel ", Quoted(kernel),
                       " run different OSes (", absl::StrJoin(os_tags, ", "),
                       "); a precompiled driver image is built for one kernel of one OS"));
    }
    const std::string os_tag = os_tags.empty() ? "" : *os_tags.begin();
    if (os_tag.empty() && !digest) {
      return absl::FailedPreconditionError(absl::StrCat(
          "spec.driver.usePrecompiled: the nodes of kernel ", Quoted(kernel),
          " have no Node Feature Discovery labels ", kNfdOsIdLabel, " and ", kNfdOsVersionLabel,
          ", which the image's tag ends in; deploy NFD, or set driver.version to a digest"));
    }
    PrecompiledDriverBuild build{.kernel = kernel, .os_tag = os_tag};
    build.image = digest ? std::string(base_image)
                         : absl::StrCat(std::string(base_image), "-", kernel, "-", os_tag);
    build.name = absl::StrCat(kDriverDaemonSet, "-", SanitizedKernel(kernel),
                              os_tag.empty() ? "" : "-", os_tag);
    // The sanitized kernel is a label value too: a subdomain of at most 63 characters is one.
    const std::string label = SanitizedKernel(kernel);
    if (!api::IsDnsSubdomain(build.name) || !api::IsDnsSubdomain(label) || label.size() > 63) {
      return absl::InvalidArgumentError(
          absl::StrCat("spec.driver.usePrecompiled: kernel ", Quoted(kernel), " (", kNfdKernelLabel,
                       ") gives no valid DaemonSet name: ", Quoted(build.name)));
    }
    builds.push_back(std::move(build));
  }
  return builds;
}

void MakePrecompiledDaemonSet(json& daemonset, const PrecompiledDriverBuild& build) {
  const std::string kernel_label = SanitizedKernel(build.kernel);
  daemonset["metadata"]["name"] = build.name;
  json& template_metadata = daemonset["spec"]["template"]["metadata"];
  for (json* labels : {&daemonset["metadata"]["labels"], &template_metadata["labels"]}) {
    (*labels)[kPrecompiledLabel] = "true";
    (*labels)[kPrecompiledKernelLabel] = kernel_label;
  }
  daemonset["spec"]["selector"]["matchLabels"][kPrecompiledKernelLabel] = kernel_label;
  daemonset["spec"]["template"]["spec"]["nodeSelector"][kNfdKernelLabel] = build.kernel;
}

}  // namespace gpuop::op
