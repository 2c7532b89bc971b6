{{/*
Generated from src/api/agent_node_rights.cc (api::AgentNodeRightsTable): do not edit.
What each node agent may change on its own Node, for agent-admission-policy.yaml.
tests/unit/api/agent_node_rights_test.cc fails when this file and the table differ and
says how to write it again (GPUOP_WRITE_GENERATED=1).
*/}}
{{- define "gpuop.agentNodeRights" -}}
{'system:serviceaccount:{{ .Release.Namespace }}:nvidia-cc-manager': {'labels': ['nvidia.com/cc.capable', 'nvidia.com/cc.mode.state', 'nvidia.com/cc.ready.state', 'nvidia.com/gpu.deploy.vfio-manager', 'nvidia.com/gpu.deploy.vgpu-manager', 'nvidia.com/gpu.deploy.sandbox-validator', 'nvidia.com/gpu.deploy.sandbox-device-plugin', 'nvidia.com/gpu.deploy.vgpu-device-manager', 'nvidia.com/gpu.deploy.kata-sandbox-device-plugin'], 'annotations': ['gpuop.io/cc-paused-labels']}, 'system:serviceaccount:{{ .Release.Namespace }}:nvidia-kata-manager': {'labels': [], 'annotations': ['gpuop.io/kata-artifacts']}, 'system:serviceaccount:{{ .Release.Namespace }}:nvidia-kata-sandbox-device-plugin': {'labels': [], 'annotations': []}, 'system:serviceaccount:{{ .Release.Namespace }}:nvidia-sandbox-device-plugin': {'labels': [], 'annotations': []}, 'system:serviceaccount:{{ .Release.Namespace }}:nvidia-sandbox-validator': {'labels': [], 'annotations': []}, 'system:serviceaccount:{{ .Release.Namespace }}:nvidia-vfio-manager': {'labels': [], 'annotations': []}}
{{- end }}
