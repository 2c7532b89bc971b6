#include "operator/container_node_facts.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace gpuop::op {

std::string OsTagOf(std::string_view id, std::string_view version_id) {
  if (id.empty() || version_id.empty()) return "";
  std::string_view version = version_id;
  // Their images are built per major release of these: rhel9, not rhel9.4.
  if (id == "rhel" || id == "rocky" || id == "ol") version = version.substr(0, version.find('.'));
  return absl::StrCat(std::string(id), std::string(version));
}

std::string ContainerRuntimeOf(std::string_view runtime_version) {
  for (const auto& [prefix, runtime] :
       {std::pair{"containerd://", "containerd"}, std::pair{"cri-o://", "crio"},
        std::pair{"docker://", "docker"}}) {
    if (runtime_version.starts_with(prefix)) return runtime;
  }
  return "";
}

}  // namespace gpuop::op
