#include "doctor/kubelet_pod_resources.h"

#include <chrono>
#include <cstdlib>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include <nlohmann/json.hpp>

#include "common/subprocess.h"
#include "kube/manifest.h"

namespace gpuop::doctor {
namespace {

using Verdict = DoctorCheck::Verdict;

constexpr char kGate[] = "KubeletPodResourcesGet";
constexpr char kDefaultKubeletRoot[] = "/var/lib/kubelet";
// Get exists from 1.27 (alpha, off) and is on by default from 1.34 (beta).
constexpr int kFirstMinorWithGet = 27;
constexpr int kFirstMinorOnByDefault = 34;

struct RunningKubelet {
  std::string pid;
  std::vector<std::string> argv;
};

std::optional<RunningKubelet> FindKubelet(const host::HostRoot& root) {
  for (const std::string& entry : root.List("/proc")) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry, &pid)) continue;
    if (root.ReadTrimmed(absl::StrCat("/proc/", entry, "/comm")).value_or("") != "kubelet") {
      continue;
    }
    const std::string cmdline = root.Read(absl::StrCat("/proc/", entry, "/cmdline")).value_or("");
    return RunningKubelet{.pid = entry, .argv = absl::StrSplit(cmdline, '\0', absl::SkipEmpty())};
  }
  return std::nullopt;
}

// --name=value or --name value (pflag's two forms); the last one given wins, as in pflag.
std::optional<std::string> FlagValue(const std::vector<std::string>& argv,
                                     const std::string& name) {
  std::optional<std::string> value;
  const std::string flag = absl::StrCat("--", name);
  for (size_t i = 1; i < argv.size(); ++i) {
    if (absl::StartsWith(argv[i], flag + "=")) {
      value = argv[i].substr(flag.size() + 1);
    } else if (argv[i] == flag && i + 1 < argv.size()) {
      value = argv[++i];
    }
  }
  return value;
}

// The gate in the kubelet config file's featureGates; nullopt when the file, the key or a bool
// value is not there.
std::optional<bool> GateInConfig(const host::HostRoot& root, const std::string& path) {
  absl::StatusOr<std::string> text = root.Read(path);
  if (!text.ok()) return std::nullopt;
  absl::StatusOr<std::vector<nlohmann::json>> documents = kube::ParseManifests(*text);
  if (!documents.ok() || documents->empty() || !documents->front().is_object()) {
    return std::nullopt;
  }
  const nlohmann::json::json_pointer pointer(absl::StrCat("/featureGates/", kGate));
  const nlohmann::json& config = documents->front();
  if (!config.contains(pointer) || !config.at(pointer).is_boolean()) return std::nullopt;
  return config.at(pointer).get<bool>();
}

std::optional<KubeletVersion> VersionOf(const host::HostRoot& root, const std::string& pid) {
  // The binary the process runs, whatever its path: /proc/<pid>/exe resolves in the kernel,
  // from the host or from a pod that mounts the host's /proc.
  absl::StatusOr<common::ProcessResult> run =
      common::RunProcess({root.Path(absl::StrCat("/proc/", pid, "/exe")), "--version"},
                         {.timeout = std::chrono::seconds(10)});
  if (!run.ok() || run->exit_code != 0) return std::nullopt;
  return ParseKubeletVersion(run->out);
}

}  // namespace

std::optional<KubeletVersion> ParseKubeletVersion(const std::string& output) {
  for (absl::string_view word :
       absl::StrSplit(output, absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    if (!absl::StartsWith(word, "v")) continue;
    const std::vector<absl::string_view> parts = absl::StrSplit(word.substr(1), '.');
    KubeletVersion version{.text = std::string(word)};
    if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &version.major) ||
        !absl::SimpleAtoi(parts[1], &version.minor)) {
      continue;
    }
    return version;
  }
  return std::nullopt;
}

std::optional<bool> GateInFlagList(const std::string& list, const std::string& gate) {
  std::optional<bool> value;
  for (absl::string_view entry : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    const std::vector<absl::string_view> pair = absl::StrSplit(entry, absl::MaxSplits('=', 1));
    if (pair.size() != 2 || absl::StripAsciiWhitespace(pair[0]) != gate) continue;
    const std::string setting = absl::AsciiStrToLower(absl::StripAsciiWhitespace(pair[1]));
    if (setting == "true") value = true;
    if (setting == "false") value = false;
  }
  return value;
}

DoctorCheck PodResourcesGet(const host::HostRoot& root) {
  DoctorCheck check{.name = "kubelet Pod Resources Get"};
  const std::optional<RunningKubelet> kubelet = FindKubelet(root);
  if (!kubelet) {
    check.verdict = Verdict::kSkip;
    check.detail = "no kubelet runs here";
    return check;
  }
  // Where the gate is set, if anywhere: a flag wins over the config file, as in the kubelet.
  std::optional<bool> gate;
  std::string where;
  const std::optional<std::string> config = FlagValue(kubelet->argv, "config");
  if (config) {
    gate = GateInConfig(root, *config);
    if (gate) where = *config;
  }
  if (std::optional<std::string> flags = FlagValue(kubelet->argv, "feature-gates")) {
    if (std::optional<bool> flag = GateInFlagList(*flags, kGate)) {
      gate = flag;
      where = "--feature-gates";
    }
  }
  const std::string turn_on =
      config ? absl::StrCat("set featureGates: {", kGate, ": true} in ", *config)
             : absl::StrCat("start the kubelet with --feature-gates=", kGate, "=true");
  const std::optional<KubeletVersion> version = VersionOf(root, kubelet->pid);
  const std::string named = version ? absl::StrCat("kubelet ", version->text) : "kubelet";

  if (gate == false) {
    check.verdict = Verdict::kFail;
    check.detail = absl::StrCat(named, ": ", kGate, " turned off (", where, ")");
    check.hint = absl::StrCat(
        "Kata's cold-plug asks the kubelet which GPUs a pod got; remove the setting from ", where,
        " and restart the kubelet");
  } else if (version && version->major == 1 && version->minor < kFirstMinorWithGet) {
    check.verdict = Verdict::kFail;
    check.detail = absl::StrCat(named, " has no Pod Resources Get (from 1.27)");
    check.hint = "upgrade the kubelet: Kata's GPU cold-plug needs 1.34, or 1.27+ with the gate on";
  } else if (gate == true) {
    check.verdict = Verdict::kOk;
    check.detail = absl::StrCat(named, ": ", kGate, " on (", where, ")");
  } else if (version && (version->major > 1 || version->minor >= kFirstMinorOnByDefault)) {
    check.verdict = Verdict::kOk;
    check.detail = absl::StrCat(named, ": on by default from 1.34");
  } else if (version) {
    check.verdict = Verdict::kFail;
    check.detail = absl::StrCat(named, ": ", kGate, " is off by default before 1.34");
    check.hint = absl::StrCat(turn_on, " and restart the kubelet (or upgrade it to 1.34+): ",
                              "Kata's GPU cold-plug asks it which GPUs a pod got");
  } else {
    check.verdict = Verdict::kWarn;
    check.detail = absl::StrCat("could not run the kubelet's binary (pid ", kubelet->pid,
                                ") for its version, and ", kGate, " is not set");
    check.hint = absl::StrCat("on a kubelet older than 1.34, ", turn_on,
                              " and restart it: Kata's GPU cold-plug needs Get");
  }
  if (check.verdict != Verdict::kOk) return check;
  // Kata's configurations name the socket under the default root dir (pod_resource_api_sock).
  const std::string socket =
      absl::StrCat(FlagValue(kubelet->argv, "root-dir").value_or(kDefaultKubeletRoot),
                   "/pod-resources/kubelet.sock");
  if (!root.Exists(socket)) {
    check.verdict = Verdict::kWarn;
    check.detail += absl::StrCat("; but ", socket, " is missing");
    check.hint = "Kata's pod_resource_api_sock must name the kubelet's pod-resources socket";
  }
  return check;
}

}  // namespace gpuop::doctor
