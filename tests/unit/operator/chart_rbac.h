#pragma once

// The RBAC objects gpuop ships, as the tests that check them read them: the chart's templates
// (deployments/helm/gpuop/templates) as Helm renders them for a release, and the objects the
// operator renders from deployments/operands. Shared by operator_rbac_test.cc and
// rbac_docs_test.cc. Needs GPUOP_SOURCE_DIR (tests/unit/CMakeLists.txt).

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace gpuop::op::chart {

// The release namespace these helpers render for.
inline constexpr char kNamespace[] = "gpu-operator";

// A chart template (`relative_path` under deployments/helm/gpuop/templates) as Helm renders it
// for a release in kNamespace. Its RBAC uses no value but the namespace: `{{ .Release.Namespace
// }}` is replaced, and every other line with a template action (labels, annotations, optional
// pull secrets, the `if` around a file) is dropped. A rule a condition guarded is kept, so what
// is checked is at least what Helm renders. A file that does not parse then fails the test.
std::vector<nlohmann::json> TemplateObjects(std::string_view relative_path);

// Every template (path under deployments/helm/gpuop/templates, sorted) that holds a Role or a
// ClusterRole, so that a new one cannot be missed.
std::vector<std::string> TemplatesWithRoles();

// Every object the operator renders, over two policies that between them turn every state on
// (kata and kubevirt mode exclude each other's device plugin); each state's objects appear once
// per policy that enables it. The Kata manager's runtime class names a pull secret, so its Role
// keeps the secrets rule. A state that renders with an error or is never enabled fails the test.
std::vector<nlohmann::json> RenderedOperandObjects();

}  // namespace gpuop::op::chart
