#pragma once

// The DCGM host engine's and the DCGM exporter's parts of the container path, as NVIDIA GPU
// Operator v26.7 sets them from the ClusterPolicy (controllers/object_controls.go: TransformDCGM,
// TransformDCGMExporter, and the exporter's Service and ServiceMonitor): where the exporter finds
// the host engine, its metrics ConfigMap, pod metadata in metrics, HPC job mapping, the
// Service's type and traffic policy, and the ServiceMonitor's scrape settings. The common
// operand fields and the RuntimeClass are applied before (operand_renderer.cc,
// container_operands.cc).
//
//   GPUOP_RETURN_IF_ERROR(TransformDcgmExporterPod(pod, policy));

#include "absl/status/status.h"
#include <nlohmann/json.hpp>

#include "api/cluster_policy.h"

namespace gpuop::op {

// Where the exporter's main container reads its list of metrics from a ConfigMap
// (spec.dcgmExporter.config.name), and the key it must hold.
inline constexpr char kDcgmMetricsKey[] = "dcgm-metrics.csv";
inline constexpr char kDcgmMetricsPath[] = "/etc/dcgm-exporter/dcgm-metrics.csv";

// The exporter DaemonSet's pod spec. InvalidArgument naming the field for a directory or
// annotation the API server would refuse; Internal when the pod lacks its main container.
absl::Status TransformDcgmExporterPod(nlohmann::json& pod, const api::ClusterPolicy& policy);

// The exporter's Service (spec.dcgmExporter.service).
void TransformDcgmExporterService(nlohmann::json& service, const api::ClusterPolicy& policy);

// The exporter's ServiceMonitor (spec.dcgmExporter.serviceMonitor). InvalidArgument for a
// relabeling that is not an object.
absl::Status TransformDcgmServiceMonitor(nlohmann::json& monitor, const api::ClusterPolicy& policy);

}  // namespace gpuop::op
