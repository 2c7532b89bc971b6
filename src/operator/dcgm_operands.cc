#include "operator/dcgm_operands.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "common/status_macros.h"
#include "operator/pod_spec_edits.h"

namespace gpuop::op {
namespace {

using nlohmann::json;

constexpr char kExporterContainer[] = "nvidia-dcgm-exporter";
// The host engine's Service (state-dcgm/0600_service.yaml) and port.
constexpr char kHostEngineAddress[] = "nvidia-dcgm:5555";
constexpr char kHostEngineEnv[] = "DCGM_REMOTE_HOSTENGINE_INFO";

// The exporter needs the API only to read pod metadata or a ConfigMap of metrics: otherwise its
// pod holds no token (NVIDIA's rule).
bool NeedsApiToken(const json& container, const api::DcgmExporterSpec& exporter) {
  const std::string configmap_data = EnvValue(container, "DCGM_EXPORTER_CONFIGMAP_DATA");
  return exporter.enable_pod_labels || exporter.enable_pod_uid ||
         (!configmap_data.empty() && configmap_data != "none");
}

}  // namespace

absl::Status TransformDcgmExporterPod(json& pod, const api::ClusterPolicy& policy) {
  const api::DcgmExporterSpec& exporter = policy.dcgm_exporter;
  json* main = FindNamed(pod, "containers", kExporterContainer);
  if (main == nullptr) {
    return absl::InternalError(absl::StrCat("state-dcgm-exporter: the DaemonSet has no container ",
                                            kExporterContainer, " to transform"));
  }
  if (policy.OperandEnabled("dcgm", true)) {
    // The node's host engine, through its node-local Service.
    SetEnv(*main, kHostEngineEnv, kHostEngineAddress);
  } else if (EnvValue(*main, kHostEngineEnv).starts_with("localhost")) {
    // An admin's engine on the host itself: only the host's network reaches it.
    pod["hostNetwork"] = true;
    pod["dnsPolicy"] = "ClusterFirstWithHostNet";
  }
  if (!exporter.config_name.empty()) {
    SetNamed(pod, "volumes",
             {{"name", "metrics-config"},
              {"configMap",
               {{"name", exporter.config_name},
                {"items", json::array({{{"key", kDcgmMetricsKey}, {"path", kDcgmMetricsKey}}})}}}});
    SetMount(*main, {{"name", "metrics-config"},
                     {"mountPath", kDcgmMetricsPath},
                     {"subPath", kDcgmMetricsKey},
                     {"readOnly", true}});
    SetEnv(*main, "DCGM_EXPORTER_COLLECTORS", kDcgmMetricsPath);
  }
  if (exporter.enable_pod_labels)
    SetEnv(*main, "DCGM_EXPORTER_KUBERNETES_ENABLE_POD_LABELS", "true");
  if (exporter.enable_pod_uid) SetEnv(*main, "DCGM_EXPORTER_KUBERNETES_ENABLE_POD_UID", "true");
  if (!exporter.pod_label_allowlist_regex.empty()) {
    SetEnv(*main, "DCGM_EXPORTER_KUBERNETES_POD_LABEL_ALLOWLIST_REGEX",
           absl::StrJoin(exporter.pod_label_allowlist_regex, ","));
  }
  if (exporter.hpc_job_mapping_enabled) {
    GPUOP_ASSIGN_OR_RETURN(
        const std::string dir,
        HostPathValue(exporter.hpc_job_mapping_dir, "spec.dcgmExporter.hpcJobMapping.directory"));
    SetEnv(*main, "DCGM_HPC_JOB_MAPPING_DIR", dir);
    SetNamed(pod, "volumes",
             {{"name", "hpc-job-mapping"},
              {"hostPath", {{"path", dir}, {"type", "DirectoryOrCreate"}}}});
    SetMount(*main, {{"name", "hpc-job-mapping"}, {"mountPath", dir}, {"readOnly", true}});
  }
  if (exporter.host_pid) pod["hostPID"] = true;
  // The section's env once more: an admin's value wins over ours, as NVIDIA applies it last.
  if (const api::OperandSpec* spec = policy.Operand("dcgmExporter")) SetEnvList(*main, spec->env);
  pod["automountServiceAccountToken"] = NeedsApiToken(*main, exporter);
  return absl::OkStatus();
}

void TransformDcgmExporterService(json& service, const api::ClusterPolicy& policy) {
  const api::DcgmExporterSpec& exporter = policy.dcgm_exporter;
  if (!exporter.service_type.empty()) service["spec"]["type"] = exporter.service_type;
  if (!exporter.service_internal_traffic_policy.empty()) {
    service["spec"]["internalTrafficPolicy"] = exporter.service_internal_traffic_policy;
  }
}

absl::Status TransformDcgmServiceMonitor(json& monitor, const api::ClusterPolicy& policy) {
  const api::DcgmExporterSpec& exporter = policy.dcgm_exporter;
  for (const auto& [key, value] : exporter.service_monitor_additional_labels) {
    monitor["metadata"]["labels"][key] = value;
  }
  json& endpoint = monitor["spec"]["endpoints"][0];
  if (!exporter.service_monitor_interval.empty()) {
    endpoint["interval"] = exporter.service_monitor_interval;
  }
  if (!exporter.service_monitor_scrape_timeout.empty()) {
    endpoint["scrapeTimeout"] = exporter.service_monitor_scrape_timeout;
  }
  endpoint["honorLabels"] = exporter.service_monitor_honor_labels;
  if (!exporter.service_monitor_relabelings.empty()) {
    for (const json& relabeling : exporter.service_monitor_relabelings) {
      if (!relabeling.is_object()) {
        return absl::InvalidArgumentError(
            "spec.dcgmExporter.serviceMonitor.relabelings: an entry is not an object");
      }
    }
    endpoint["relabelings"] = exporter.service_monitor_relabelings;
  }
  return absl::OkStatus();
}

}  // namespace gpuop::op
