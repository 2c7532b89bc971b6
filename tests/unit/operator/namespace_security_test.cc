// PodSecurityLabelPatch: the labels spec.psa.enabled puts on the operator's namespace, as a
// table of the namespace's labels before and the patch that follows.

#include "operator/namespace_security.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace gpuop::op {
namespace {

using nlohmann::json;

struct Row {
  std::string what;
  bool psa_enabled;
  json labels;                       // The namespace's metadata.labels.
  std::optional<json> patch_labels;  // The patch's metadata.labels; nullopt: no patch.
};

TEST(PodSecurityLabelPatch, SetsOnlyWhatDiffersAndNothingWhenOff) {
  const json privileged = {{"pod-security.kubernetes.io/enforce", "privileged"},
                           {"pod-security.kubernetes.io/audit", "privileged"},
                           {"pod-security.kubernetes.io/warn", "privileged"}};
  json admins = {{"kubernetes.io/metadata.name", "gpu-operator"},
                 {"pod-security.kubernetes.io/enforce", "baseline"},
                 {"pod-security.kubernetes.io/warn", "restricted"}};
  json labelled_and_more = privileged;
  labelled_and_more["team"] = "gpu";
  json one_wrong = privileged;
  one_wrong["pod-security.kubernetes.io/audit"] = "restricted";
  json not_strings = privileged;
  not_strings["pod-security.kubernetes.io/warn"] = 1;

  for (const Row& row : std::vector<Row>{
           {"off, no labels", false, json(), std::nullopt},
           // An admin's labels stay when psa is off: nothing is removed.
           {"off, an admin's levels", false, admins, std::nullopt},
           {"off, already privileged", false, privileged, std::nullopt},
           {"on, no labels at all", true, json(), privileged},
           {"on, empty labels", true, json::object(), privileged},
           {"on, labels not an object", true, json::array({"x"}), privileged},
           {"on, an admin's stricter levels", true, admins,
            json{{"pod-security.kubernetes.io/enforce", "privileged"},
                 {"pod-security.kubernetes.io/audit", "privileged"},
                 {"pod-security.kubernetes.io/warn", "privileged"}}},
           {"on, already privileged", true, privileged, std::nullopt},
           {"on, privileged and other labels", true, labelled_and_more, std::nullopt},
           {"on, one mode differs", true, one_wrong,
            json{{"pod-security.kubernetes.io/audit", "privileged"}}},
           {"on, a value that is not a string", true, not_strings,
            json{{"pod-security.kubernetes.io/warn", "privileged"}}},
       }) {
    SCOPED_TRACE(row.what);
    const std::optional<json> patch = PodSecurityLabelPatch(row.psa_enabled, row.labels);
    ASSERT_EQ(patch.has_value(), row.patch_labels.has_value());
    if (!patch) continue;
    // A merge patch of the labels only: other metadata and other labels are left as they are.
    EXPECT_EQ(*patch, (json{{"metadata", {{"labels", *row.patch_labels}}}}));
  }
}

}  // namespace
}  // namespace gpuop::op
