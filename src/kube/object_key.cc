#include "kube/informer.h"

namespace gpuop::kube {

std::string ObjectKey(const json& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  const std::string name = metadata->value("name", "");
  const std::string ns = metadata->value("namespace", "");
  return ns.empty() ? name : ns + "/" + name;
}

}  // namespace gpuop::kube
