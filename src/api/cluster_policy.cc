#include "api/cluster_policy.h"

#include <limits>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

#include "api/cc_mode.h"
#include "api/host_folders.h"
#include "api/names.h"

namespace gpuop::api {
namespace {

using nlohmann::json;

// Helm keeps each release's rendered chart and values in Secrets named so. The Kata manager is
// granted `get` on the pull secrets its runtime classes name, so such a name would hand it a
// release's values (and whatever credentials they hold) instead of a registry login.
constexpr char kHelmReleaseSecretPrefix[] = "sh.helm.release.v1.";

// A name as the status shows it: quoted, with control characters escaped, so that a name that
// tries to be YAML or a second line reads as what it is.
std::string Shown(const std::string& name) {
  return absl::StrCat("\"", absl::CHexEscape(name), "\"");
}

// Reads typed fields of one JSON object and keeps the first error, with the field's path.
// Absent and null fields read as "not given"; a field of the wrong type is an error.
class Fields {
 public:
  Fields(const json& object, std::string path, absl::Status& error)
      : object_(object), path_(std::move(path)), error_(error) {
    if (!object_.is_null() && !object_.is_object()) Fail("", "is not an object");
  }

  const json* Find(const char* key) const {
    if (!object_.is_object()) return nullptr;
    const auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }
  std::optional<bool> Bool(const char* key) {
    const json* value = Find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_boolean()) return Fail(key, "is not true or false"), std::nullopt;
    return value->get<bool>();
  }
  std::string String(const char* key) {
    const json* value = Find(key);
    if (value == nullptr) return "";
    if (!value->is_string()) return Fail(key, "is not a string"), "";
    return value->get<std::string>();
  }
  // One of `allowed`, or "" when absent.
  std::string Enum(const char* key, std::initializer_list<std::string_view> allowed) {
    std::string value = String(key);
    if (value.empty()) return value;
    for (std::string_view candidate : allowed) {
      if (value == candidate) return value;
    }
    const std::vector<std::string> words(allowed.begin(), allowed.end());
    Fail(key, absl::StrCat("\"", value, "\" is not one of ", absl::StrJoin(words, ", ")));
    return "";
  }
  std::vector<std::string> Strings(const char* key) {
    std::vector<std::string> values;
    const json* value = Find(key);
    if (value == nullptr) return values;
    if (!value->is_array()) return Fail(key, "is not a list"), values;
    for (const json& item : *value) {
      if (!item.is_string()) return Fail(key, "has an item that is not a string"), values;
      values.push_back(item.get<std::string>());
    }
    return values;
  }
  std::map<std::string, std::string> StringMap(const char* key) {
    std::map<std::string, std::string> values;
    const json* value = Find(key);
    if (value == nullptr) return values;
    if (!value->is_object()) return Fail(key, "is not a map"), values;
    for (const auto& [name, item] : value->items()) {
      if (!item.is_string()) {
        FailAt(absl::StrCat(Path(key), "[\"", name, "\"]"), "is not a string");
        return values;
      }
      values[name] = item.get<std::string>();
    }
    return values;
  }
  const json& Object(const char* key) {
    static const json none;
    const json* value = Find(key);
    return value == nullptr ? none : *value;
  }
  std::string Path(const char* key) const { return absl::StrCat(path_, ".", key); }

  void Fail(const char* key, const std::string& why) {
    FailAt(*key == '\0' ? path_ : Path(key), why);
  }
  void FailAt(const std::string& path, const std::string& why) {
    if (error_.ok()) error_ = absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
  }

 private:
  const json& object_;
  const std::string path_;
  absl::Status& error_;
};

// `key` as NVIDIA's EnvVar list: [{name, value}], each entry with a string name. Left as it was
// when absent.
void ReadEnv(Fields& fields, const char* key, json& env) {
  const json* value = fields.Find(key);
  if (value == nullptr) return;
  if (!value->is_array()) return fields.Fail(key, "is not a list of {name, value}");
  for (const json& variable : *value) {
    if (!variable.is_object() || !variable.contains("name") || !variable["name"].is_string()) {
      return fields.Fail(key, "has an entry without a name");
    }
  }
  env = *value;
}

// The name of a ConfigMap or Secret in the operator's namespace, which the driver's pod mounts or
// the device plugin reads: a DNS subdomain, as the API server requires of an object's name.
std::string ReadObjectName(Fields& fields, const char* key, const char* kind) {
  std::string name = fields.String(key);
  if (!name.empty() && !IsDnsSubdomain(name)) {
    fields.Fail(key, absl::StrCat(Shown(name), " is not a ", kind,
                                  " name (lower-case letters, digits, '-' and '.')"));
  }
  return name;
}

// A key of a ConfigMap, as the API server checks one (IsConfigMapKey): 1 to 253 letters, digits,
// '-', '_' and '.', and neither "." nor ".." nor starting with "..". The device plugin's
// config-manager reads the file of that name from the mounted ConfigMap.
bool IsConfigMapKey(std::string_view key) {
  if (key.empty() || key.size() > 253 || key == "." || key.substr(0, 2) == "..") {
    return false;
  }
  for (char c : key) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// A folder on the node that the operands mount as a hostPath volume: absolute and without "..",
// which the API server refuses in a hostPath. Returned with repeated and trailing '/' taken out
// (so "/run/nvidia/driver/" is the default), or `fallback` when absent or refused.
std::string ReadHostFolder(Fields& fields, const char* key, std::string fallback) {
  const std::string dir = fields.String(key);
  if (dir.empty()) return fallback;
  if (dir.front() != '/') return fields.Fail(key, "is not an absolute path"), fallback;
  for (absl::string_view part : absl::StrSplit(dir, '/')) {
    if (part == "..") return fields.Fail(key, "holds \"..\""), fallback;
  }
  return NormalizeHostFolder(dir);
}

OperandSpec ReadOperand(const json& section, const std::string& path, absl::Status& error) {
  Fields fields(section, path, error);
  OperandSpec spec;
  spec.enabled = fields.Bool("enabled");
  spec.repository = fields.String("repository");
  spec.image = fields.String("image");
  spec.version = fields.String("version");
  spec.image_pull_policy = fields.String("imagePullPolicy");
  spec.image_pull_secrets = fields.Strings("imagePullSecrets");
  spec.args = fields.Strings("args");
  ReadEnv(fields, "env", spec.env);
  if (const json* resources = fields.Find("resources")) {
    if (!resources->is_object()) fields.Fail("resources", "is not an object");
    spec.resources = *resources;
  }
  return spec;
}

// spec.driver's fields beyond the common ones (those are read by ReadOperand).
void ReadDriver(const json& section, const std::string& path, DriverSpec& driver,
                absl::Status& error) {
  Fields fields(section, path, error);
  driver.use_precompiled = fields.Bool("usePrecompiled").value_or(false);
  if (std::string type = fields.Enum("kernelModuleType", {"auto", "open", "proprietary"});
      !type.empty()) {
    driver.kernel_module_type = type;
  }
  Fields rdma(fields.Object("rdma"), fields.Path("rdma"), error);
  driver.rdma_enabled = rdma.Bool("enabled").value_or(false);
  driver.rdma_use_host_mofed = rdma.Bool("useHostMofed").value_or(false);
  driver.manager = ReadOperand(fields.Object("manager"), fields.Path("manager"), error);
  Fields repo(fields.Object("repoConfig"), fields.Path("repoConfig"), error);
  driver.repo_config_map = ReadObjectName(repo, "configMapName", "ConfigMap");
  Fields cert(fields.Object("certConfig"), fields.Path("certConfig"), error);
  driver.cert_config_name = ReadObjectName(cert, "name", "ConfigMap");
  Fields licensing(fields.Object("licensingConfig"), fields.Path("licensingConfig"), error);
  driver.licensing_config_map = ReadObjectName(licensing, "configMapName", "ConfigMap");
  driver.licensing_secret = ReadObjectName(licensing, "secretName", "Secret");
  // NVIDIA's DriverSpec reads a nil nlsEnabled as true.
  driver.licensing_nls_enabled = licensing.Bool("nlsEnabled").value_or(true);
  Fields modules(fields.Object("kernelModuleConfig"), fields.Path("kernelModuleConfig"), error);
  driver.kernel_module_config_name = ReadObjectName(modules, "name", "ConfigMap");
}

// spec.dcgmExporter's fields beyond the common ones.
void ReadDcgmExporter(const json& section, const std::string& path, DcgmExporterSpec& exporter,
                      absl::Status& error) {
  Fields fields(section, path, error);
  Fields config(fields.Object("config"), fields.Path("config"), error);
  exporter.config_name = ReadObjectName(config, "name", "ConfigMap");
  Fields monitor(fields.Object("serviceMonitor"), fields.Path("serviceMonitor"), error);
  exporter.service_monitor_enabled = monitor.Bool("enabled").value_or(false);
  exporter.service_monitor_interval = monitor.String("interval");
  exporter.service_monitor_scrape_timeout = monitor.String("scrapeTimeout");
  exporter.service_monitor_honor_labels = monitor.Bool("honorLabels").value_or(false);
  exporter.service_monitor_additional_labels = monitor.StringMap("additionalLabels");
  if (const json* relabelings = monitor.Find("relabelings")) {
    if (!relabelings->is_array()) {
      monitor.Fail("relabelings", "is not a list");
    } else {
      exporter.service_monitor_relabelings = *relabelings;
    }
  }
  Fields service(fields.Object("service"), fields.Path("service"), error);
  exporter.service_type = service.Enum("type", {"ClusterIP", "NodePort", "LoadBalancer"});
  exporter.service_internal_traffic_policy =
      service.Enum("internalTrafficPolicy", {"Cluster", "Local"});
  exporter.host_pid = fields.Bool("hostPID").value_or(false);
  Fields hpc(fields.Object("hpcJobMapping"), fields.Path("hpcJobMapping"), error);
  exporter.hpc_job_mapping_enabled = hpc.Bool("enabled").value_or(false);
  exporter.hpc_job_mapping_dir =
      ReadHostFolder(hpc, "directory", std::move(exporter.hpc_job_mapping_dir));
  exporter.enable_pod_labels = fields.Bool("enablePodLabels").value_or(false);
  exporter.enable_pod_uid = fields.Bool("enablePodUID").value_or(false);
  exporter.pod_label_allowlist_regex = fields.Strings("podLabelAllowlistRegex");
  exporter.annotations = fields.StringMap("annotations");
}

// The container path's settings outside spec.driver: the validator steps' env, the toolkit's
// and device plugin's folders and config, CDI, the driver's install folder and the MIG strategy.
void ReadContainerPath(Fields& spec, ClusterPolicy& policy, absl::Status& error) {
  ReadDriver(spec.Object("driver"), spec.Path("driver"), policy.driver, error);
  ReadDcgmExporter(spec.Object("dcgmExporter"), spec.Path("dcgmExporter"), policy.dcgm_exporter,
                   error);

  Fields validator(spec.Object("validator"), spec.Path("validator"), error);
  for (auto [step, env] : {std::pair{"driver", &policy.validator_steps.driver},
                           std::pair{"toolkit", &policy.validator_steps.toolkit},
                           std::pair{"cuda", &policy.validator_steps.cuda},
                           std::pair{"plugin", &policy.validator_steps.plugin}}) {
    Fields section(validator.Object(step), validator.Path(step), error);
    ReadEnv(section, "env", *env);
  }

  Fields toolkit(spec.Object("toolkit"), spec.Path("toolkit"), error);
  policy.toolkit_install_dir =
      ReadHostFolder(toolkit, "installDir", std::move(policy.toolkit_install_dir));

  Fields device_plugin(spec.Object("devicePlugin"), spec.Path("devicePlugin"), error);
  Fields config(device_plugin.Object("config"), device_plugin.Path("config"), error);
  policy.device_plugin_config_name = ReadObjectName(config, "name", "ConfigMap");
  policy.device_plugin_config_default = config.String("default");
  if (const std::string& key = policy.device_plugin_config_default;
      !key.empty() && !IsConfigMapKey(key)) {
    config.Fail("default", absl::StrCat(Shown(key),
                                        " is not a ConfigMap key (letters, digits, '-', '_' and "
                                        "'.', not starting with \"..\")"));
  }
  Fields mps(device_plugin.Object("mps"), device_plugin.Path("mps"), error);
  policy.device_plugin_mps_root =
      ReadHostFolder(mps, "root", std::move(policy.device_plugin_mps_root));

  // cdi.default is deprecated and ignored by NVIDIA's operator, and so here.
  Fields cdi(spec.Object("cdi"), spec.Path("cdi"), error);
  policy.cdi_enabled = cdi.Bool("enabled").value_or(true);

  Fields host_paths(spec.Object("hostPaths"), spec.Path("hostPaths"), error);
  policy.driver_install_dir =
      ReadHostFolder(host_paths, "driverInstallDir", std::move(policy.driver_install_dir));

  // NVIDIA's CRD has no default for mig.strategy (its chart writes `single`): absent, the device
  // plugin and GFD get no MIG_STRATEGY and keep their own default.
  Fields mig(spec.Object("mig"), spec.Path("mig"), error);
  policy.mig_strategy = mig.Enum("strategy", {"none", "single", "mixed"});

  // The MIG manager's layouts: the admin's ConfigMap or the operator's default one, and the
  // layout a MIG-capable node starts with ("all-disabled", NVIDIA's enum, or none).
  Fields mig_manager(spec.Object("migManager"), spec.Path("migManager"), error);
  Fields mig_config(mig_manager.Object("config"), mig_manager.Path("config"), error);
  policy.mig_config_name = ReadObjectName(mig_config, "name", "ConfigMap");
  if (mig_config.Find("default") != nullptr) {
    policy.mig_config_default = mig_config.Enum("default", {"all-disabled", ""});
  }
  Fields gpu_clients(mig_manager.Object("gpuClientsConfig"), mig_manager.Path("gpuClientsConfig"),
                     error);
  policy.mig_gpu_clients_config_name = ReadObjectName(gpu_clients, "name", "ConfigMap");
}

void ReadKataConfig(const json& config, const std::string& path, ClusterPolicy& policy,
                    absl::Status& error) {
  Fields fields(config, path, error);
  if (std::string dir = fields.String("artifactsDir"); !dir.empty()) {
    if (std::optional<std::string> problem = ArtifactsDirProblem(dir)) {
      fields.Fail("artifactsDir", *problem);
    }
    policy.kata_artifacts_dir = NormalizeHostFolder(dir);
  }
  const json* classes = fields.Find("runtimeClasses");
  if (classes == nullptr) return;
  if (!classes->is_array()) return fields.Fail("runtimeClasses", "is not a list");
  std::set<std::string> names;
  for (size_t i = 0; i < classes->size(); ++i) {
    Fields entry((*classes)[i], absl::StrCat(path, ".runtimeClasses[", i, "]"), error);
    KataRuntimeClass runtime_class;
    runtime_class.name = entry.String("name");
    runtime_class.node_selector = entry.StringMap("nodeSelector");
    Fields artifacts(entry.Object("artifacts"), entry.Path("artifacts"), error);
    runtime_class.artifacts_url = artifacts.String("url");
    runtime_class.artifacts_pull_secret = artifacts.String("pullSecret");
    // As NVIDIA's sanitiser does: an entry without a name or URL is dropped, not fatal.
    if (runtime_class.name.empty() || runtime_class.artifacts_url.empty()) continue;
    // The Kata manager refuses its whole config over one name it cannot use, which would block
    // every class on every node: such a name is refused here, before anything is rendered.
    if (!IsRuntimeClassName(runtime_class.name)) {
      entry.Fail("name", absl::StrCat(Shown(runtime_class.name),
                                      " is not usable: ", kRuntimeClassNameRule));
    } else if (!names.insert(runtime_class.name).second) {
      entry.Fail("name", absl::StrCat(Shown(runtime_class.name),
                                      " appears twice; a RuntimeClass name is unique"));
    }
    const std::string& secret = runtime_class.artifacts_pull_secret;
    if (!secret.empty() && !IsDnsSubdomain(secret)) {
      artifacts.Fail("pullSecret", absl::StrCat(Shown(secret), " is not a Secret name"));
    } else if (absl::StartsWith(secret, kHelmReleaseSecretPrefix)) {
      artifacts.Fail("pullSecret",
                     absl::StrCat(Shown(secret),
                                  " is a Helm release record, not a registry credential; the Kata "
                                  "manager is not given access to it"));
    }
    policy.kata_runtime_classes.push_back(std::move(runtime_class));
  }
}

void ReadDaemonSets(const json& section, const std::string& path, DaemonSetsSpec& daemonsets,
                    absl::Status& error) {
  Fields fields(section, path, error);
  daemonsets.labels = fields.StringMap("labels");
  daemonsets.annotations = fields.StringMap("annotations");
  if (const json* tolerations = fields.Find("tolerations")) {
    if (!tolerations->is_array()) fields.Fail("tolerations", "is not a list");
    daemonsets.tolerations = *tolerations;
  }
  daemonsets.priority_class_name = fields.String("priorityClassName");
  daemonsets.update_strategy = fields.Enum("updateStrategy", {"RollingUpdate", "OnDelete"});
  Fields rolling(fields.Object("rollingUpdate"), fields.Path("rollingUpdate"), error);
  if (const json* max = rolling.Find("maxUnavailable")) {
    // NVIDIA's Helm default is the string "1": a count written as a string is a count, as Go's
    // intstr.Parse reads it. What the DaemonSet API would refuse (0, a negative count, a
    // percentage outside 1-100, " 5%") is refused here, where the status can say so; so is a
    // count an IntOrString cannot hold (an int32), however many digits it is written with.
    constexpr int64_t kMaxCount = std::numeric_limits<int32_t>::max();
    const std::string text = max->is_string() ? max->get<std::string>() : "";
    const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
    const bool percent = text.size() > 1 && text.back() == '%' &&
                         text.find_first_not_of("0123456789") == text.size() - 1;
    // 0 stands for "not a count": it is refused below like any other.
    int64_t count = 0;
    if (max->is_number_unsigned()) {
      count = max->get<uint64_t>() > static_cast<uint64_t>(kMaxCount) ? 0 : max->get<int64_t>();
    } else if (max->is_number_integer()) {
      count = max->get<int64_t>();
    } else if (digits || percent) {
      // SimpleAtoi fails on overflow (and leaves the limit behind): the result counts only then.
      int32_t parsed = 0;
      if (absl::SimpleAtoi(percent ? text.substr(0, text.size() - 1) : text, &parsed)) {
        count = parsed;
      }
    }
    if ((max->is_number_integer() || digits) && count >= 1 && count <= kMaxCount) {
      daemonsets.max_unavailable = count;
    } else if (percent && count >= 1 && count <= 100) {
      daemonsets.max_unavailable = text;
    } else {
      rolling.Fail("maxUnavailable", absl::StrCat("is not a number from 1 to ", kMaxCount,
                                                  " or a percentage from 1% to 100%"));
    }
  }
}

}  // namespace

std::optional<Workload> ParseWorkload(std::string_view value) {
  if (value == "container") return Workload::kContainer;
  if (value == "vm-passthrough") return Workload::kVmPassthrough;
  if (value == "vm-vgpu") return Workload::kVmVgpu;
  return std::nullopt;
}

std::string_view WorkloadName(Workload workload) {
  switch (workload) {
    case Workload::kContainer:
      return "container";
    case Workload::kVmPassthrough:
      return "vm-passthrough";
    case Workload::kVmVgpu:
      return "vm-vgpu";
  }
  return "container";
}

const OperandSpec* ClusterPolicy::Operand(std::string_view spec_key) const {
  const auto it = operands.find(std::string(spec_key));
  return it == operands.end() ? nullptr : &it->second;
}

bool ClusterPolicy::OperandEnabled(std::string_view spec_key, bool default_enabled) const {
  const OperandSpec* spec = Operand(spec_key);
  return spec != nullptr && spec->enabled.has_value() ? *spec->enabled : default_enabled;
}

absl::StatusOr<ClusterPolicy> ParseClusterPolicy(const json& object) {
  absl::Status error;
  ClusterPolicy policy;
  Fields top(object, "ClusterPolicy", error);
  Fields metadata(top.Object("metadata"), "metadata", error);
  policy.name = metadata.String("name");
  policy.uid = metadata.String("uid");
  policy.creation_timestamp = metadata.String("creationTimestamp");
  if (const json* generation = metadata.Find("generation");
      generation != nullptr && generation->is_number_integer()) {
    policy.generation = generation->get<int64_t>();
  }

  const json& spec_object = top.Object("spec");
  Fields spec(spec_object, "spec", error);
  Fields sandbox(spec.Object("sandboxWorkloads"), "spec.sandboxWorkloads", error);
  policy.sandbox_enabled = sandbox.Bool("enabled").value_or(false);
  const std::string workload =
      sandbox.Enum("defaultWorkload", {"container", "vm-passthrough", "vm-vgpu"});
  policy.default_workload = ParseWorkload(workload).value_or(Workload::kContainer);
  policy.sandbox_mode = sandbox.Enum("mode", {"kubevirt", "kata"}) == "kata"
                            ? SandboxMode::kKata
                            : SandboxMode::kKubevirt;

  for (const char* key : kOperandSpecKeys) {
    const json* section = spec.Find(key);
    if (section == nullptr) continue;
    policy.operands[key] = ReadOperand(*section, spec.Path(key), error);
  }
  Fields cc(spec.Object("ccManager"), "spec.ccManager", error);
  policy.cc_default_mode =
      cc.Enum("defaultMode", {CcModeName(CcMode::kOn), CcModeName(CcMode::kOff),
                              CcModeName(CcMode::kDevtools), CcModeName(CcMode::kPpcie)});
  Fields kata(spec.Object("kataManager"), "spec.kataManager", error);
  ReadKataConfig(kata.Object("config"), "spec.kataManager.config", policy, error);
  Fields nfd(spec.Object("nfd"), "spec.nfd", error);
  policy.nfd_node_feature_rules = nfd.Bool("nodefeaturerules").value_or(false);
  ReadDaemonSets(spec.Object("daemonsets"), "spec.daemonsets", policy.daemonsets, error);
  Fields host_paths(spec.Object("hostPaths"), "spec.hostPaths", error);
  if (std::string root = host_paths.String("rootFS"); !root.empty()) {
    if (root.front() != '/') host_paths.Fail("rootFS", "is not an absolute path");
    policy.host_root_fs = root;
  }
  Fields psa(spec.Object("psa"), "spec.psa", error);
  policy.psa_enabled = psa.Bool("enabled").value_or(false);
  ReadContainerPath(spec, policy, error);
  Fields operator_section(spec.Object("operator"), "spec.operator", error);
  if (std::string runtime_class = operator_section.String("runtimeClass"); !runtime_class.empty()) {
    // The name and handler of the container path's RuntimeClass.
    if (!IsRuntimeClassName(runtime_class)) {
      operator_section.Fail(
          "runtimeClass",
          absl::StrCat(Shown(runtime_class), " is not usable: ", kRuntimeClassNameRule));
    }
    policy.container_runtime_class = runtime_class;
  }

  if (!error.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ClusterPolicy ", policy.name, ": ", error.message()));
  }
  return policy;
}

}  // namespace gpuop::api
