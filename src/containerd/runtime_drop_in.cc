#include "containerd/runtime_drop_in.h"

#include <sstream>

#include "absl/strings/str_cat.h"

namespace gpuop::containerd {

absl::StatusOr<DropInPlan> PlanDropIn(const MainConfig& main, bool main_exists,
                                      const ContainerdVersion& version) {
  DropInPlan plan;
  plan.schema = main_exists ? main.schema : version.DefaultSchema();
  if (plan.schema < 2) {
    return absl::FailedPreconditionError(
        "the containerd config has schema version 1 (no `version = 2`); gpuop adds runtime "
        "handlers to schema 2 or 3 only: convert it with `containerd config migrate` first");
  }
  if (plan.schema >= 3 && version.major < 2) {
    return absl::FailedPreconditionError(
        absl::StrCat("the containerd config says version = ", plan.schema, " but containerd is ",
                     version.major, ".", version.minor, ", which reads schema 2 only"));
  }
  plan.cri_plugin = plan.schema >= 3 ? "io.containerd.cri.v1.runtime" : "io.containerd.grpc.v1.cri";
  plan.cdi = version.HasCdi();
  plan.carries_user_cri_table = !version.MergesImportedPluginTables();
  return plan;
}

absl::Status CheckHandlerNamesAreFree(const DropInPlan& plan, const MainConfig& main,
                                      const std::vector<RuntimeHandler>& handlers) {
  const toml::node_view<const toml::node> engine =
      main.document["plugins"][plan.cri_plugin]["containerd"];
  const toml::table* runtimes = engine["runtimes"].as_table();
  const std::string default_runtime = engine["default_runtime_name"].value_or(std::string("runc"));
  for (const RuntimeHandler& handler : handlers) {
    const bool taken = handler.name == "runc" || handler.name == default_runtime ||
                       (runtimes != nullptr && runtimes->contains(handler.name));
    if (taken) {
      return absl::FailedPreconditionError(absl::StrCat(
          "runtime class \"", handler.name,
          "\" has the name of a runtime the node's containerd "
          "already has (its own, or the default); gpuop does not replace it. Rename the runtime "
          "class (nothing was changed)"));
    }
  }
  return absl::OkStatus();
}

std::string RenderDropIn(const DropInPlan& plan, const MainConfig& main,
                         const std::vector<RuntimeHandler>& handlers) {
  toml::table cri;
  if (plan.carries_user_cri_table) {
    const toml::table* plugins = main.document["plugins"].as_table();
    const toml::table* user = plugins == nullptr ? nullptr : (*plugins)[plan.cri_plugin].as_table();
    if (user != nullptr) cri = *user;
  }
  if (cri["containerd"].as_table() == nullptr) cri.insert_or_assign("containerd", toml::table{});
  toml::table& runtime_engine = *cri["containerd"].as_table();
  if (runtime_engine["runtimes"].as_table() == nullptr) {
    runtime_engine.insert_or_assign("runtimes", toml::table{});
  }
  toml::table& runtimes = *runtime_engine["runtimes"].as_table();
  // On 1.x containerd's built-in runc runtime exists only while no config names any runtime:
  // the first `runtimes` table replaces the built-in map. So when the user's config relies on
  // it without spelling it out, it is spelled out here as containerd 1.x defines it.
  if (plan.carries_user_cri_table) {
    const std::string default_runtime =
        runtime_engine["default_runtime_name"].value_or(std::string("runc"));
    if (default_runtime == "runc" && !runtimes.contains("runc")) {
      runtimes.insert_or_assign("runc",
                                toml::table{{"runtime_type", "io.containerd.runc.v2"},
                                            {"options", toml::table{{"BinaryName", ""},
                                                                    {"CriuImagePath", ""},
                                                                    {"CriuPath", ""},
                                                                    {"CriuWorkPath", ""},
                                                                    {"IoGid", 0},
                                                                    {"IoUid", 0},
                                                                    {"NoNewKeyring", false},
                                                                    {"NoPivotRoot", false},
                                                                    {"Root", ""},
                                                                    {"ShimCgroup", ""},
                                                                    {"SystemdCgroup", false}}}});
    }
  }
  for (const RuntimeHandler& handler : handlers) {
    runtimes.insert_or_assign(
        handler.name, toml::table{{"runtime_type", kKataRuntimeType},
                                  {"privileged_without_host_devices", true},
                                  {"pod_annotations", toml::array{"io.katacontainers.*"}},
                                  {"options", toml::table{{"ConfigPath", handler.config_path}}}});
  }
  if (plan.cdi) {
    cri.insert_or_assign("enable_cdi", true);
    cri.insert_or_assign("cdi_spec_dirs", toml::array{"/etc/cdi", "/var/run/cdi"});
  }
  toml::table document{{"version", plan.schema},
                       {"plugins", toml::table{{plan.cri_plugin, std::move(cri)}}}};
  std::ostringstream out;
  out << kDropInHeader
      << " and imported by containerd's main config: the Kata\n"
         "# runtime handlers of the node's runtime classes.";
  if (plan.carries_user_cri_table) {
    out << " containerd 1.x lets this file's\n# [plugins.\"" << plan.cri_plugin
        << "\"] replace the main config's, so it repeats the main\n# config's settings there; "
           "edit those in the main config (gpuop copies them again).";
  }
  out << "\n# Rewritten whole; edits here are lost.\n\n" << toml::toml_formatter(document) << "\n";
  return out.str();
}

}  // namespace gpuop::containerd
