// The operator's rights in the chart (deployments/helm/gpuop/templates/operator-rbac.yaml)
// against what it renders from deployments/operands: it can apply and prune every object, it may
// grant what each agent's Role grants (the API refuses a Role or a binding that grants more than
// its author holds, unless the author may escalate or bind that Role), and it holds nothing
// broader: no wildcard, no Secret it could read, no ClusterRole or binding but its own to change.
// The sets compared are computed from the rendered objects, so a new operand cannot be missed.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "kube/resource.h"
#include "operator/operand_objects.h"
#include "operator/operand_renderer.h"
#include "tests/unit/operator/chart_rbac.h"

namespace gpuop::op {
namespace {

using nlohmann::json;

using chart::kNamespace;
constexpr char kRbacGroup[] = "rbac.authorization.k8s.io";

// The chart's RBAC template as Helm renders it for a release in kNamespace (chart_rbac.h).
std::vector<json> ChartRbac() { return chart::TemplateObjects("operator-rbac.yaml"); }

struct Rule {
  std::set<std::string> groups;
  std::set<std::string> resources;
  std::set<std::string> verbs;
  std::set<std::string> names;  // Empty: any name.
};

std::set<std::string> Strings(const json& list) {
  std::set<std::string> values;
  if (!list.is_array()) return values;
  for (const json& item : list) {
    if (item.is_string()) values.insert(item.get<std::string>());
  }
  return values;
}

std::vector<Rule> RulesOf(const json& role) {
  std::vector<Rule> rules;
  for (const json& rule : role.value("rules", json::array())) {
    rules.push_back({Strings(rule.value("apiGroups", json())),
                     Strings(rule.value("resources", json())), Strings(rule.value("verbs", json())),
                     Strings(rule.value("resourceNames", json()))});
  }
  return rules;
}

// As the RBAC authorizer matches a request; `name` empty is a request that names no object (a
// list), or, for a rule to check, "every name".
bool Matches(const Rule& rule, const std::string& group, const std::string& resource,
             const std::string& verb, const std::string& name) {
  const auto has = [](const std::set<std::string>& values, const std::string& value) {
    return values.contains(value) || values.contains("*");
  };
  return has(rule.groups, group) && has(rule.resources, resource) && has(rule.verbs, verb) &&
         (rule.names.empty() || (!name.empty() && rule.names.contains(name)));
}

// The operator's identity: its ClusterRole's rules hold everywhere, its Role's in kNamespace.
struct Operator {
  std::vector<Rule> cluster;
  std::vector<Rule> namespaced;

  std::vector<Rule> In(bool in_namespace) const {
    std::vector<Rule> rules = cluster;
    if (in_namespace) rules.insert(rules.end(), namespaced.begin(), namespaced.end());
    return rules;
  }
  bool Allows(bool in_namespace, const std::string& group, const std::string& resource,
              const std::string& verb, const std::string& name) const {
    for (const Rule& rule : In(in_namespace)) {
      if (Matches(rule, group, resource, verb, name)) return true;
    }
    return false;
  }
  // The names a request may carry; {"*"} when any name is allowed.
  std::set<std::string> NamesAllowed(bool in_namespace, const std::string& group,
                                     const std::string& resource, const std::string& verb) const {
    if (Allows(in_namespace, group, resource, verb, "")) return {"*"};
    std::set<std::string> names;
    for (const Rule& rule : In(in_namespace)) {
      if (!rule.names.empty() && Matches(rule, group, resource, verb, *rule.names.begin())) {
        names.insert(rule.names.begin(), rule.names.end());
      }
    }
    return names;
  }
};

Operator ChartOperator() {
  Operator rights;
  bool cluster_role = false;
  bool role = false;
  for (const json& object : ChartRbac()) {
    const std::string kind = object.value("kind", "");
    const std::string name = object["metadata"].value("name", "");
    if (kind == "ClusterRole" && name == "gpuop-operator") {
      rights.cluster = RulesOf(object);
      cluster_role = true;
    } else if (kind == "Role" && name == "gpuop-operator") {
      EXPECT_EQ(object["metadata"].value("namespace", ""), kNamespace);
      rights.namespaced = RulesOf(object);
      role = true;
    }
  }
  EXPECT_TRUE(cluster_role && role) << "the chart has no ClusterRole or Role gpuop-operator";
  return rights;
}

std::vector<json> RenderedObjects() { return chart::RenderedOperandObjects(); }

std::set<std::string> NamesOfKind(const std::vector<json>& objects, const std::string& kind) {
  std::set<std::string> names;
  for (const json& object : objects) {
    if (object.value("kind", "") == kind) names.insert(object["metadata"].value("name", ""));
  }
  return names;
}

TEST(OperatorRbac, TheOperatorCanApplyAndPruneEveryObjectItRenders) {
  const Operator rights = ChartOperator();
  for (const json& object : RenderedObjects()) {
    SCOPED_TRACE(ManifestKey(object));
    absl::StatusOr<kube::Resource> resource = ResourceOf(object);
    ASSERT_TRUE(resource.ok()) << resource.status();
    const std::string name = object["metadata"].value("name", "");
    // Server-side apply is a patch by name, authorized as a create with that name when the
    // object is new; the applier reads it by name first, the prune lists and deletes.
    for (const char* verb : {"get", "patch", "create", "delete"}) {
      EXPECT_TRUE(
          rights.Allows(resource->namespaced, resource->group, resource->plural, verb, name))
          << verb;
    }
    EXPECT_TRUE(rights.Allows(resource->namespaced, resource->group, resource->plural, "list", ""));
  }
}

TEST(OperatorRbac, TheOperatorMayGrantWhatEachAgentsRoleGrants) {
  const Operator rights = ChartOperator();
  int roles = 0;
  for (const json& role : RenderedObjects()) {
    const std::string kind = role.value("kind", "");
    if (kind != "Role" && kind != "ClusterRole") continue;
    ++roles;
    const bool in_namespace = kind == "Role";
    const std::string name = role["metadata"].value("name", "");
    const std::string plural = in_namespace ? "roles" : "clusterroles";
    SCOPED_TRACE(kind + " " + name);
    // A Role whose rights the operator does not hold may still be written and bound by it when
    // it may escalate and bind that very Role (both, by name).
    const bool may_escalate = rights.Allows(in_namespace, kRbacGroup, plural, "escalate", name) &&
                              rights.Allows(in_namespace, kRbacGroup, plural, "bind", name);
    for (const Rule& rule : RulesOf(role)) {
      for (const std::string& group : rule.groups) {
        for (const std::string& resource : rule.resources) {
          for (const std::string& verb : rule.verbs) {
            const std::set<std::string> names =
                rule.names.empty() ? std::set<std::string>{""} : rule.names;
            for (const std::string& object : names) {
              EXPECT_TRUE(may_escalate ||
                          rights.Allows(in_namespace, group, resource, verb, object))
                  << verb << " " << group << "/" << resource << " " << object;
            }
          }
        }
      }
    }
  }
  EXPECT_GT(roles, 0);
}

TEST(OperatorRbac, NoWildcardAndNoSecretTheOperatorCouldRead) {
  const Operator rights = ChartOperator();
  for (const Rule& rule : rights.In(true)) {
    for (const std::set<std::string>* values :
         {&rule.groups, &rule.resources, &rule.verbs, &rule.names}) {
      EXPECT_FALSE(values->contains("*")) << ::testing::PrintToString(rule.resources);
    }
  }
  for (const char* verb : {"get", "list", "watch"}) {
    EXPECT_FALSE(rights.Allows(true, "", "secrets", verb, "")) << verb;
    // Helm keeps a release's values in these; a ClusterPolicy could name one as a pull secret.
    EXPECT_FALSE(rights.Allows(true, "", "secrets", verb, "sh.helm.release.v1.gpuop.v1")) << verb;
  }
}

TEST(OperatorRbac, EscalateAndBindHoldOnlyForRolesTheOperatorRenders) {
  const Operator rights = ChartOperator();
  const std::vector<json> objects = RenderedObjects();
  for (const auto& [plural, kind] :
       std::map<std::string, std::string>{{"roles", "Role"}, {"clusterroles", "ClusterRole"}}) {
    const std::set<std::string> rendered = NamesOfKind(objects, kind);
    for (const char* verb : {"escalate", "bind"}) {
      SCOPED_TRACE(std::string(verb) + " " + plural);
      const std::set<std::string> allowed = rights.NamesAllowed(true, kRbacGroup, plural, verb);
      EXPECT_FALSE(allowed.contains("*"));
      for (const std::string& name : allowed) EXPECT_TRUE(rendered.contains(name)) << name;
    }
  }
  EXPECT_FALSE(rights.Allows(true, "", "users", "impersonate", ""));
  EXPECT_FALSE(rights.Allows(true, "", "serviceaccounts", "impersonate", ""));
}

TEST(OperatorRbac, ClusterRolesAndBindingsAreReadAndChangedOnlyByTheNamesTheOperatorRenders) {
  const Operator rights = ChartOperator();
  const std::vector<json> objects = RenderedObjects();
  for (const auto& [plural, kind] : std::map<std::string, std::string>{
           {"clusterroles", "ClusterRole"}, {"clusterrolebindings", "ClusterRoleBinding"}}) {
    const std::set<std::string> rendered = NamesOfKind(objects, kind);
    ASSERT_FALSE(rendered.empty()) << kind;
    for (const char* verb : {"get", "patch", "update", "delete"}) {
      SCOPED_TRACE(std::string(verb) + " " + plural);
      EXPECT_EQ(rights.NamesAllowed(false, kRbacGroup, plural, verb), rendered);
      EXPECT_FALSE(rights.Allows(false, kRbacGroup, plural, verb, "cluster-admin"));
    }
  }
}

TEST(OperatorRbac, TheOperatorReadsAndLabelsItsOwnNamespaceOnly) {
  // spec.psa.enabled (namespace_security.h): a get, then a merge patch, of the namespace the
  // release is in. Namespaces are cluster-scoped, so the rule is in the ClusterRole and must
  // name that one namespace.
  const Operator rights = ChartOperator();
  for (const char* verb : {"get", "patch"}) {
    SCOPED_TRACE(verb);
    EXPECT_EQ(rights.NamesAllowed(false, "", "namespaces", verb),
              std::set<std::string>{kNamespace});
    EXPECT_FALSE(rights.Allows(false, "", "namespaces", verb, "kube-system"));
  }
  for (const char* verb : {"list", "watch", "create", "update", "delete", "deletecollection"}) {
    EXPECT_TRUE(rights.NamesAllowed(false, "", "namespaces", verb).empty()) << verb;
  }
  // Nor anything below a namespace that the name would also cover (status, finalize).
  for (const char* subresource : {"namespaces/status", "namespaces/finalize"}) {
    for (const char* verb : {"get", "patch", "update"}) {
      EXPECT_TRUE(rights.NamesAllowed(false, "", subresource, verb).empty())
          << verb << " " << subresource;
    }
  }
}

}  // namespace
}  // namespace gpuop::op
