// docs/security.md's "Who may do what in the API" table against every Role and ClusterRole gpuop
// ships: the chart's templates (every one that holds a Role) and the agents' Roles as the operator
// renders them (deployments/operands). Each Role is mapped to its ServiceAccounts through the
// bindings shipped beside it. A right granted without a row, a row nothing grants and a `*` in a
// rule all fail. The table of Node keys each agent owns is checked against
// api::AgentNodeRightsTable(), the source the chart's admission policy is generated from.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "api/agent_node_rights.h"
#include "tests/unit/operator/chart_rbac.h"

namespace gpuop::op {
namespace {

using nlohmann::json;

constexpr char kAddRow[] = "add a row to docs/security.md's table (why it is needed)";
const std::vector<std::string> kRightsHeader = {"ServiceAccount", "resource", "verbs", "scope",
                                                "why"};
const std::vector<std::string> kNodeKeysHeader = {"ServiceAccount", "labels it may change",
                                                  "annotations it may change"};
const std::set<std::string> kScopes = {"cluster", "cluster, by name", "namespace",
                                       "namespace, by name"};

// (ServiceAccount, group/resource, scope) -> verbs.
using Key = std::tuple<std::string, std::string, std::string>;
using Rights = std::map<Key, std::set<std::string>>;

std::string Describe(const Key& key, const std::string& verb) {
  const auto& [account, resource, scope] = key;
  return account + " may `" + verb + "` " + resource + " (scope: " + scope + ")";
}

std::string Trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return "";
  const size_t end = text.find_last_not_of(" \t");
  return std::string(text.substr(begin, end - begin + 1));
}

// The cells of a Markdown table row, trimmed; empty when `line` is not a row.
std::vector<std::string> Cells(std::string_view line) {
  const std::string row = Trim(line);
  if (row.size() < 2 || row.front() != '|' || row.back() != '|') return {};
  std::vector<std::string> cells;
  std::string_view rest = std::string_view(row).substr(1, row.size() - 2);
  for (size_t bar = rest.find('|');; bar = rest.find('|')) {
    cells.push_back(Trim(rest.substr(0, bar)));
    if (bar == std::string_view::npos) break;
    rest.remove_prefix(bar + 1);
  }
  return cells;
}

// Every `quoted` string in a cell, in order.
std::vector<std::string> Quoted(std::string_view cell) {
  std::vector<std::string> values;
  for (size_t open = cell.find('`'); open != std::string_view::npos; open = cell.find('`')) {
    const size_t close = cell.find('`', open + 1);
    if (close == std::string_view::npos) break;
    values.emplace_back(cell.substr(open + 1, close - open - 1));
    cell.remove_prefix(close + 1);
  }
  return values;
}

std::string SecurityDoc() {
  const std::string path = std::string(GPUOP_SOURCE_DIR) + "/docs/security.md";
  std::ifstream file(path);
  EXPECT_TRUE(file.good()) << path;
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// The body rows of the table whose header row is `header` (the row after it is the separator).
std::vector<std::vector<std::string>> TableRows(const std::vector<std::string>& header) {
  std::istringstream doc(SecurityDoc());
  std::vector<std::vector<std::string>> rows;
  bool found = false;
  for (std::string line; std::getline(doc, line);) {
    if (!found) {
      found = Cells(line) == header;
      if (found) std::getline(doc, line);  // | --- | --- |
      continue;
    }
    std::vector<std::string> cells = Cells(line);
    if (cells.empty()) break;
    rows.push_back(std::move(cells));
  }
  EXPECT_TRUE(found) << "docs/security.md has no table headed | "
                     << ::testing::PrintToString(header);
  return rows;
}

// The table's rights, and what is wrong with its rows.
struct Documented {
  Rights rights;
  std::vector<std::string> problems;
};

Documented DocumentedRights() {
  Documented documented;
  for (const std::vector<std::string>& cells : TableRows(kRightsHeader)) {
    const std::string row = "| " + ::testing::PrintToString(cells) + " |";
    if (cells.size() != kRightsHeader.size()) {
      documented.problems.push_back(row + ": not 5 cells");
      continue;
    }
    const std::vector<std::string> account = Quoted(cells[0]);
    const std::vector<std::string> resource = Quoted(cells[1]);
    const std::vector<std::string> verbs = Quoted(cells[2]);
    if (account.size() != 1 || resource.size() != 1 || resource[0].find('/') == std::string::npos ||
        verbs.size() != 1 || !kScopes.contains(cells[3]) || cells[4].empty()) {
      documented.problems.push_back(row + ": want `account` | `group/resource` | `verb, verb` | " +
                                    "cluster or namespace[, by name] | why");
      continue;
    }
    std::set<std::string>& granted = documented.rights[{account[0], resource[0], cells[3]}];
    std::istringstream list(verbs[0]);
    for (std::string verb; std::getline(list, verb, ',');) {
      if (!Trim(verb).empty()) granted.insert(Trim(verb));
    }
  }
  if (documented.rights.empty()) documented.problems.push_back("the table has no rows");
  return documented;
}

struct Shipped {
  std::vector<json> roles;  // Every Role and ClusterRole.
  Rights rights;            // What their bindings grant.
  std::vector<std::string> problems;
};

std::vector<std::string> Strings(const json& object, const char* field) {
  std::vector<std::string> values;
  for (const json& item : object.value(field, json::array())) {
    if (item.is_string()) values.push_back(item.get<std::string>());
  }
  return values;
}

Shipped ShippedRights() {
  std::vector<json> objects = chart::RenderedOperandObjects();
  const std::vector<std::string> templates = chart::TemplatesWithRoles();
  EXPECT_FALSE(templates.empty());
  for (const std::string& path : templates) {
    for (json& object : chart::TemplateObjects(path)) objects.push_back(std::move(object));
  }
  Shipped shipped;
  // (kind, namespace, name) -> the role; a ClusterRole's namespace is empty.
  std::map<std::tuple<std::string, std::string, std::string>, json> roles;
  for (const json& object : objects) {
    const std::string kind = object.value("kind", "");
    if (kind != "Role" && kind != "ClusterRole") continue;
    const json& metadata = object["metadata"];
    roles[{kind, kind == "Role" ? metadata.value("namespace", "") : "",
           metadata.value("name", "")}] = object;
  }
  std::set<std::tuple<std::string, std::string, std::string>> bound;
  for (const json& binding : objects) {
    const std::string kind = binding.value("kind", "");
    if (kind != "RoleBinding" && kind != "ClusterRoleBinding") continue;
    const std::string binding_name = kind + " " + binding["metadata"].value("name", "");
    const json& ref = binding.value("roleRef", json::object());
    const std::string role_kind = ref.value("kind", "");
    const std::tuple<std::string, std::string, std::string> role_key = {
        role_kind, role_kind == "Role" ? binding["metadata"].value("namespace", "") : "",
        ref.value("name", "")};
    const auto role = roles.find(role_key);
    if (role == roles.end()) {
      shipped.problems.push_back(binding_name + " binds " + role_kind + " " +
                                 ref.value("name", "") + ", which gpuop does not ship");
      continue;
    }
    // A ClusterRole bound by a RoleBinding holds in that namespace only.
    const std::string scope = kind == "ClusterRoleBinding" ? "cluster" : "namespace";
    for (const json& subject : binding.value("subjects", json::array())) {
      if (subject.value("kind", "") != "ServiceAccount" ||
          subject.value("namespace", "") != chart::kNamespace) {
        shipped.problems.push_back(binding_name + " binds " + subject.dump() +
                                   ", not a ServiceAccount of the release namespace");
        continue;
      }
      bound.insert(role_key);
      const std::string account = subject.value("name", "");
      for (const json& rule : role->second.value("rules", json::array())) {
        const std::string rule_scope =
            scope + (Strings(rule, "resourceNames").empty() ? "" : ", by name");
        for (const std::string& group : Strings(rule, "apiGroups")) {
          for (const std::string& resource : Strings(rule, "resources")) {
            for (const std::string& verb : Strings(rule, "verbs")) {
              shipped
                  .rights[{account, (group.empty() ? "core" : group) + "/" + resource, rule_scope}]
                  .insert(verb);
            }
          }
        }
      }
    }
  }
  for (const auto& [key, role] : roles) {
    shipped.roles.push_back(role);
    if (!bound.contains(key)) {
      shipped.problems.push_back(std::get<0>(key) + " " + std::get<2>(key) +
                                 " is bound to no ServiceAccount gpuop ships");
    }
  }
  return shipped;
}

TEST(RbacDocs, TheTableIsWellFormed) {
  const Documented documented = DocumentedRights();
  for (const std::string& problem : documented.problems) ADD_FAILURE() << problem;
}

TEST(RbacDocs, EveryRoleIsBoundOnlyToServiceAccountsGpuopShips) {
  const Shipped shipped = ShippedRights();
  EXPECT_FALSE(shipped.roles.empty());
  for (const std::string& problem : shipped.problems) ADD_FAILURE() << problem;
}

TEST(RbacDocs, NoRuleHoldsAWildcard) {
  const Shipped shipped = ShippedRights();
  ASSERT_FALSE(shipped.roles.empty());
  for (const json& role : shipped.roles) {
    const std::string name = role.value("kind", "") + " " + role["metadata"].value("name", "");
    for (const json& rule : role.value("rules", json::array())) {
      for (const char* field : {"apiGroups", "resources", "verbs"}) {
        for (const std::string& value : Strings(rule, field)) {
          EXPECT_EQ(value.find('*'), std::string::npos)
              << name << " holds `" << value << "` in " << field << ": " << rule.dump();
        }
      }
    }
  }
}

TEST(RbacDocs, EveryGrantedRightHasARow) {
  const Shipped shipped = ShippedRights();
  const Documented documented = DocumentedRights();
  ASSERT_FALSE(shipped.rights.empty());
  for (const auto& [key, verbs] : shipped.rights) {
    const auto row = documented.rights.find(key);
    for (const std::string& verb : verbs) {
      EXPECT_TRUE(row != documented.rights.end() && row->second.contains(verb))
          << Describe(key, verb) << ", but docs/security.md does not say so: " << kAddRow;
    }
  }
}

TEST(RbacDocs, EveryRowIsGranted) {
  const Shipped shipped = ShippedRights();
  const Documented documented = DocumentedRights();
  ASSERT_FALSE(documented.rights.empty());
  for (const auto& [key, verbs] : documented.rights) {
    const auto granted = shipped.rights.find(key);
    for (const std::string& verb : verbs) {
      EXPECT_TRUE(granted != shipped.rights.end() && granted->second.contains(verb))
          << "docs/security.md's table says " << Describe(key, verb)
          << ", but no Role or ClusterRole gpuop ships grants it (check the scope): correct or "
             "remove the row";
    }
  }
}

// The per-agent table of Node keys in "The node agents are confined to their own Node".
TEST(RbacDocs, TheNodeKeysTableIsAgentNodeRights) {
  using Keys = std::pair<std::set<std::string>, std::set<std::string>>;  // labels, annotations
  std::map<std::string, Keys> documented;
  for (const std::vector<std::string>& cells : TableRows(kNodeKeysHeader)) {
    ASSERT_EQ(cells.size(), kNodeKeysHeader.size()) << ::testing::PrintToString(cells);
    const std::vector<std::string> account = Quoted(cells[0]);
    ASSERT_EQ(account.size(), 1u) << ::testing::PrintToString(cells);
    const std::vector<std::string> labels = Quoted(cells[1]);
    const std::vector<std::string> annotations = Quoted(cells[2]);
    documented[account[0]] = {{labels.begin(), labels.end()},
                              {annotations.begin(), annotations.end()}};
  }
  std::map<std::string, Keys> source;
  for (const api::AgentNodeRights& rights : api::AgentNodeRightsTable()) {
    source[rights.service_account] = {{rights.labels.begin(), rights.labels.end()},
                                      {rights.annotations.begin(), rights.annotations.end()}};
  }
  ASSERT_FALSE(source.empty());
  for (const auto& [account, keys] : source) {
    SCOPED_TRACE(account);
    const auto row = documented.find(account);
    ASSERT_TRUE(row != documented.end())
        << "api::AgentNodeRightsTable() has " << account
        << ", docs/security.md's Node keys table does not: add its row";
    EXPECT_EQ(row->second.first, keys.first) << "labels (src/api/agent_node_rights.cc)";
    EXPECT_EQ(row->second.second, keys.second) << "annotations (src/api/agent_node_rights.cc)";
  }
  for (const auto& [account, keys] : documented) {
    EXPECT_TRUE(source.contains(account))
        << "docs/security.md's Node keys table has " << account
        << ", api::AgentNodeRightsTable() does not: remove the row";
  }
}

}  // namespace
}  // namespace gpuop::op
