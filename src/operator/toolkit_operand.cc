#include "operator/toolkit_operand.h"

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

#include "api/names.h"
#include "common/printable.h"
#include "common/status_macros.h"
#include "operator/pod_spec_edits.h"

namespace gpuop::op {
namespace {

using nlohmann::json;

constexpr char kToolkitContainer[] = "nvidia-container-toolkit-ctr";
// The manifest's install folder (mounted at the same path), which is the policy's default.
constexpr char kManifestInstallDir[] = "/usr/local/nvidia";

// Where the runtime's folders appear in the container (NVIDIA's DefaultRuntimeConfigTargetDir,
// DefaultRuntimeDropInConfigTargetDir, DefaultRuntimeSocketTargetDir).
constexpr char kConfigTargetDir[] = "/runtime/config-dir/";
constexpr char kDropInTargetDir[] = "/runtime/config-dir.d/";
constexpr char kSocketTargetDir[] = "/runtime/sock-dir/";

// Each runtime's files on the host (NVIDIA's defaults) and the variables that name them. Docker
// reads no drop-in; for CRI-O NVIDIA's operator mounts no socket.
struct RuntimeFiles {
  std::string_view runtime;  // RenderContext::container_runtime, and the installer's RUNTIME.
  std::string_view config_env;
  std::string_view config;
  std::string_view drop_in;  // "" for none.
  std::string_view socket_env;
  std::string_view socket;  // "" for none.
};

constexpr RuntimeFiles kRuntimes[] = {
    {"containerd", "CONTAINERD_CONFIG", "/etc/containerd/config.toml",
     "/etc/containerd/conf.d/99-nvidia.toml", "CONTAINERD_SOCKET",
     "/run/containerd/containerd.sock"},
    {"crio", "CRIO_CONFIG", "/etc/crio/config.toml", "/etc/crio/crio.conf.d/99-nvidia.conf", "",
     ""},
    {"docker", "DOCKER_CONFIG", "/etc/docker/daemon.json", "", "DOCKER_SOCKET",
     "/var/run/docker.sock"},
};

const RuntimeFiles* FilesOf(std::string_view runtime) {
  for (const RuntimeFiles& files : kRuntimes) {
    if (files.runtime == runtime) return &files;
  }
  return nullptr;
}

std::string Quoted(std::string_view value) {
  return absl::StrCat("\"", common::Printable(value, 256), "\"");
}

// A file on the host that a variable names: the folder to mount and the file's name in it.
struct HostFile {
  std::string dir;
  std::string name;
};

absl::StatusOr<HostFile> SplitHostFile(std::string_view path, std::string_view field) {
  GPUOP_ASSIGN_OR_RETURN(const std::string clean, HostPathValue(path, field));
  const size_t slash = clean.rfind('/');
  if (slash + 1 == clean.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ": ", Quoted(path), " names no file"));
  }
  return HostFile{slash == 0 ? "/" : clean.substr(0, slash), clean.substr(slash + 1)};
}

// The value the admin gave for a runtime file (spec.toolkit.env, already on the container), else
// `fallback_env`'s, else the runtime's default; `field` says which, for an error.
std::string UserOrDefault(const json& container, std::string_view env,
                          std::string_view fallback_env, std::string_view fallback,
                          std::string& field) {
  for (std::string_view name : {env, fallback_env}) {
    if (name.empty()) continue;
    std::string value = EnvValue(container, name);
    if (!value.empty()) {
      field = absl::StrCat("spec.toolkit.env ", std::string(name));
      return value;
    }
  }
  field = absl::StrCat("the default ", std::string(env));
  return std::string(fallback);
}

void MountHostDir(json& pod, json& container, const std::string& volume,
                  const std::string& host_dir, const char* target, bool create) {
  json host_path = {{"path", host_dir}};
  if (create) host_path["type"] = "DirectoryOrCreate";
  SetNamed(pod, "volumes", {{"name", volume}, {"hostPath", std::move(host_path)}});
  SetMount(container, {{"name", volume}, {"mountPath", target}});
}

// RUNTIME_CONFIG_SOURCE lists where the installer reads the runtime's current config from
// ("command", "file=<path>"); a file on the host it reads through the host's root at /host.
absl::Status ReadConfigFilesUnderHost(json& container) {
  const std::string sources = EnvValue(container, "RUNTIME_CONFIG_SOURCE");
  if (sources.empty()) return absl::OkStatus();
  std::vector<std::string> rewritten;
  for (absl::string_view source : absl::StrSplit(sources, ',')) {
    const size_t equals = source.find('=');
    if (equals == absl::string_view::npos || source.substr(0, equals) != "file") {
      rewritten.emplace_back(source);
      continue;
    }
    GPUOP_ASSIGN_OR_RETURN(const std::string path,
                           HostPathValue(absl::StrCat("/", source.substr(equals + 1)),
                                         "spec.toolkit.env RUNTIME_CONFIG_SOURCE"));
    rewritten.push_back(absl::StrCat("file=/host", path));
  }
  SetEnv(container, "RUNTIME_CONFIG_SOURCE", absl::StrJoin(rewritten, ","));
  return absl::OkStatus();
}

// The runtime's config (top-level and drop-in) and socket: the host folders that hold them are
// mounted under /runtime, and the installer is told the files' paths there (and the drop-in's
// path on the host, which the top-level config's `imports` must name).
absl::Status MountRuntimeFiles(json& pod, json& main, const RuntimeFiles& files,
                               const api::ClusterPolicy& policy) {
  const std::string runtime(files.runtime);
  SetEnv(main, "RUNTIME", runtime);
  if (runtime == "containerd") {
    // The handler's name, which the RuntimeClass of the operands names.
    if (!api::IsRuntimeClassName(policy.container_runtime_class)) {
      return absl::InvalidArgumentError(
          absl::StrCat("spec.operator.runtimeClass: ", Quoted(policy.container_runtime_class),
                       " is not valid: ", api::kRuntimeClassNameRule));
    }
    SetEnv(main, "CONTAINERD_RUNTIME_CLASS", policy.container_runtime_class);
  }
  // Every user value first: the rewrites below replace them.
  std::string config_field, drop_in_field, socket_field;
  const std::string config =
      UserOrDefault(main, files.config_env, "RUNTIME_CONFIG", files.config, config_field);
  const std::string drop_in =
      files.drop_in.empty()
          ? ""
          : UserOrDefault(main, "RUNTIME_DROP_IN_CONFIG", "", files.drop_in, drop_in_field);
  const std::string socket =
      files.socket.empty() ? ""
                           : UserOrDefault(main, files.socket_env, "", files.socket, socket_field);

  GPUOP_ASSIGN_OR_RETURN(const HostFile config_file, SplitHostFile(config, config_field));
  MountHostDir(pod, main, runtime + "-config", config_file.dir, kConfigTargetDir, true);
  const std::string config_in_container = absl::StrCat(kConfigTargetDir, config_file.name);
  SetEnv(main, "RUNTIME_CONFIG", config_in_container);
  SetEnv(main, files.config_env, config_in_container);

  if (!drop_in.empty()) {
    GPUOP_ASSIGN_OR_RETURN(const HostFile drop_in_file, SplitHostFile(drop_in, drop_in_field));
    MountHostDir(pod, main, runtime + "-drop-in-config", drop_in_file.dir, kDropInTargetDir, true);
    SetEnv(main, "RUNTIME_DROP_IN_CONFIG", absl::StrCat(kDropInTargetDir, drop_in_file.name));
    SetEnv(main, "RUNTIME_DROP_IN_CONFIG_HOST_PATH",
           absl::StrCat(drop_in_file.dir == "/" ? "" : drop_in_file.dir, "/", drop_in_file.name));
  }
  GPUOP_RETURN_IF_ERROR(ReadConfigFilesUnderHost(main));
  if (!socket.empty()) {
    GPUOP_ASSIGN_OR_RETURN(const HostFile socket_file, SplitHostFile(socket, socket_field));
    // No type: the runtime's own folder, which must be there already.
    MountHostDir(pod, main, runtime + "-socket", socket_file.dir, kSocketTargetDir, false);
    const std::string socket_in_container = absl::StrCat(kSocketTargetDir, socket_file.name);
    SetEnv(main, "RUNTIME_SOCKET", socket_in_container);
    SetEnv(main, files.socket_env, socket_in_container);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status TransformToolkitPod(json& pod, const api::ClusterPolicy& policy,
                                 const RenderContext& context) {
  json* main = FindNamed(pod, "containers", kToolkitContainer);
  if (main == nullptr) {
    return absl::InternalError(absl::StrCat("state-container-toolkit: the DaemonSet has no ",
                                            "container ", kToolkitContainer, " to transform"));
  }
  const RuntimeFiles* files = FilesOf(context.container_runtime);
  if (files == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("the GPU nodes' container runtime ",
                                                   Quoted(context.container_runtime),
                                                   " is not one of containerd, crio, docker"));
  }
  // It creates the runtime handler a RuntimeClass would name, so it cannot run under one.
  pod.erase("runtimeClassName");
  if (policy.cdi_enabled) {
    // Workloads get their GPUs from the runtimes' own CDI support, so `nvidia` is a handler
    // for the operands' RuntimeClass only, not the default runtime, and runs in CDI mode.
    SetEnv(*main, "CDI_ENABLED", "true");
    SetEnv(*main, "NVIDIA_RUNTIME_SET_AS_DEFAULT", "false");
    SetEnv(*main, "NVIDIA_CONTAINER_RUNTIME_MODE", "cdi");
    SetEnv(*main, "CRIO_CONFIG_MODE", "config");
  } else if (files->runtime == "crio") {
    // NVIDIA keeps CRI-O on the OCI prestart hook without CDI: runtime handlers there would make
    // `nvidia` CRI-O's default runtime.
    SetEnv(*main, "CRIO_CONFIG_MODE", "hook");
  }
  GPUOP_ASSIGN_OR_RETURN(const std::string install_dir,
                         HostPathValue(policy.toolkit_install_dir, "spec.toolkit.installDir"));
  if (install_dir == "/") {
    return absl::InvalidArgumentError(
        "spec.toolkit.installDir: \"/\" is the host's root; name a folder for the toolkit");
  }
  if (install_dir != kManifestInstallDir) {
    // The installer writes <ROOT>/toolkit and the runtime config names the binaries there by
    // that path, so the folder is mounted at the same path as on the host.
    SetEnv(*main, "ROOT", install_dir);
    SetHostPath(pod, "toolkit-install-dir", install_dir);
    MoveMounts(*main, "toolkit-install-dir", install_dir);
  }
  if (const api::OperandSpec* spec = policy.Operand("toolkit")) SetEnvList(*main, spec->env);
  return MountRuntimeFiles(pod, *main, *files, policy);
}

}  // namespace gpuop::op
