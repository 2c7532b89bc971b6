#!/usr/bin/env bash
# Workload flips move the operands: vm-passthrough -> container takes the sandbox agents (and
# their proofs) off the node and hands the GPUs over; with the node's own driver loaded, NVIDIA's
# container toolkit installer (built from its Go module) writes the cluster's containerd config,
# whose `nvidia` handler then runs a pod; back brings the agents and takes the handlers out;
# gpu.deploy.operands=false gets nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
: "${E2E_STATE:?}"
e2e_attach

wait_policy_ready 120
e2e_wait 120 "the agents on the vm-passthrough node" '[[ "$(ready_daemonsets)" == "$kSandboxAgents" ]]'

show kubectl label node "$E2E_NODE" nvidia.com/gpu.workload.config=container --overwrite
e2e_wait 90 "the sandbox agents to leave" '[[ -z "$(ready_daemonsets)" ]]'
expect_ne "$(node_label nvidia.com/gpu.deploy.vfio-manager)" true "vfio-manager deploy label"
expect_eq "$(node_label nvidia.com/gpu.deploy.device-plugin)" true "container device-plugin label"
# The validator took its proof back as it stopped.
[[ ! -e /run/nvidia/validations/vfio-pci-ready ]] || e2e_fail "vfio-pci-ready left behind"
e2e_log "ok: vfio-pci-ready is gone"
e2e_wait 60 "pgpu to leave allocatable" '[[ "$(allocatable nvidia.com/pgpu)" == 0 ]]'
e2e_log "ok: nvidia.com/pgpu is 0 on a container node"
# The GPU hand-over: the driver's deploy label is held while the VFIO manager still has the GPUs,
# and is true only once its pod is gone.
e2e_wait 60 "the driver's deploy label after the hand-over" \
  '[[ "$(node_label nvidia.com/gpu.deploy.driver)" == true ]]'
expect_eq "$(kubectl get pods -n "$E2E_NAMESPACE" -l app=nvidia-vfio-manager -o name)" "" \
  "VFIO manager pods once the driver may start"
e2e_log "ok: the driver's label is true and no VFIO manager pod is left"
# The container path is deployed for the node now, and the ClusterPolicy says what keeps it from
# rolling out instead of `ready`. First: the driver image's tag ends in the node's OS, from the
# os_release labels NFD's worker read from the node's /etc/os-release.
os_id=$(node_label feature.node.kubernetes.io/system-os_release.ID)
os_version=$(node_label feature.node.kubernetes.io/system-os_release.VERSION_ID)
[[ -n "$os_id" && -n "$os_version" ]] || e2e_fail "NFD gave no os_release labels"
driver_image=nvcr.io/nvidia/driver:595.91.07-$os_id$os_version
e2e_wait 60 "the driver DaemonSet with its image tagged for the node's OS" \
  '[[ "$(kubectl get ds -n "$E2E_NAMESPACE" nvidia-driver-daemonset \
        -o jsonpath="{.spec.template.spec.containers[0].image}" 2>/dev/null)" == "$driver_image" ]]'
e2e_log "ok: driver image $driver_image (NFD: ID=$os_id, VERSION_ID=$os_version)"
for ds in nvidia-container-toolkit-daemonset nvidia-operator-validator \
  nvidia-device-plugin-daemonset gpu-feature-discovery; do
  kubectl get ds -n "$E2E_NAMESPACE" "$ds" >/dev/null || e2e_fail "no DaemonSet $ds"
done
e2e_log "ok: the toolkit, validator, device plugin and GFD DaemonSets are there"
# Before the toolkit: the cluster's containerd has no `nvidia` handler, so a pod of that
# RuntimeClass gets no sandbox.
start_runtime_class_pod nvidia-before nvidia
e2e_wait 60 "containerd to refuse the nvidia handler" \
  '[[ "$(pod_events nvidia-before)" == *"no runtime for \"nvidia\" is configured"* ]]'
e2e_log "ok: before the toolkit: $(pod_events nvidia-before | grep -o 'no runtime for "nvidia" is configured' | head -1)"
kubectl delete pod nvidia-before --wait=false >/dev/null
# The node's own driver (installed in the simulated root by gpuop-sim-node, not loaded) is
# loaded now that the VFIO manager has handed the GPUs over, as the admin's driver service
# would. The toolkit's driver-validation finds it and writes driver-ready; then NVIDIA's
# installer (v1.20.0, built from the Go module proxy) writes the nvidia handlers into a drop-in
# of the cluster's real containerd config, and containerd is restarted to load them (by the test:
# e2e_sim_node_args says why not by the installer's SIGHUP).
show sim_nvidia_module load
e2e_wait 90 "the validator's driver-ready" '[[ -f /run/nvidia/validations/driver-ready ]]'
sed 's/^/  driver-ready: /' /run/nvidia/validations/driver-ready
expect_eq "$(sed -n 's/^IS_HOST_DRIVER=//p' /run/nvidia/validations/driver-ready)" true \
  "driver-ready's IS_HOST_DRIVER (the host's driver, found by nvidia-smi chrooted into it)"
drop_in=$E2E_STATE/containerd/conf.d/99-nvidia.toml
toolkit_log() {
  kubectl logs -n "$E2E_NAMESPACE" -l app=nvidia-container-toolkit-daemonset \
    -c nvidia-container-toolkit-ctr --tail=-1 2>/dev/null
}
e2e_wait 120 "the toolkit's installer to finish its setup" \
  '[[ "$(toolkit_log)" == *"Completed '"'setup'"'"* && -f "$drop_in" ]]'
grep -E "Resolved source root|Using driver version|Flushing config|restart|Completed 'setup'" \
  <<<"$(toolkit_log)" | sed 's/^/  toolkit: /' || true
show restart_containerd
e2e_wait 120 "the toolkit DaemonSet to be available with its drop-in" \
  '[[ "$(kubectl get ds -n "$E2E_NAMESPACE" nvidia-container-toolkit-daemonset -o jsonpath={.status.numberAvailable})" == 1 &&
     -f "$drop_in" ]]'
e2e_log "ok: the toolkit DaemonSet is available (its container restarted $(kubectl get pods -n "$E2E_NAMESPACE" \
  -l app=nvidia-container-toolkit-daemonset -o jsonpath='{..containerStatuses[0].restartCount}') times)"
grep -E '^ *\[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia|BinaryName|enable_cdi' \
  "$drop_in" | sed 's/^ */  99-nvidia.toml: /'
expect_eq "$(sed -n 's/^imports = //p' "$E2E_STATE/containerd/config.toml")" \
  "[\"$E2E_STATE/containerd/conf.d/*.toml\"]" "the containerd config's imports"
grep -q 'sandbox_image = "localhost/gpuop-e2e/pause:1"' "$E2E_STATE/containerd/config.toml" ||
  e2e_fail "the toolkit lost the cluster's own containerd settings"
e2e_log "ok: the cluster's own containerd settings are kept"
# The handler works: containerd loaded it. NVIDIA's runtime wrapper on the node finds no nvidia
# module in this machine's kernel and runs runc directly, as upstream's does.
start_runtime_class_pod nvidia-after nvidia
e2e_wait 90 "the nvidia RuntimeClass pod to run" '[[ "$(pod_phase nvidia-after)" == Succeeded ]]'
e2e_log "ok: the nvidia RuntimeClass pod ran: $(kubectl logs nvidia-after)"
kubectl delete pod nvidia-after --wait=false >/dev/null
management_spec=/var/run/cdi/management.nvidia.com-gpu.yaml
[[ -f "$management_spec" ]] || e2e_fail "the toolkit wrote no management CDI spec"
e2e_log "ok: management CDI spec with $(grep -c 'hostPath: /dev/nvidia' "$management_spec") device nodes, kind $(sed -n 's/^kind: //p' "$management_spec")"
# Nothing of NVIDIA's runs here (no GPU, no driver, no registry): the policy says which.
e2e_wait 60 "the ClusterPolicy to name the operands that cannot roll out" \
  '[[ "$(policy_state)" == notReady && "$(policy_reason)" == OperandNotReady:*nvidia-driver-daemonset* ]]'
e2e_log "ok: $(policy_reason)"
# gpuop as a kubectl plugin (kubectl-gpuop on the PATH): status with kubectl's -n, --context and
# --kubeconfig
# counts each node's operand pods and names those not ready, with why.
plugins=$(mktemp -d)
ln -s "$E2E_BUILD/src/cli/gpuop" "$plugins/kubectl-gpuop"
context=$(kubectl config current-context)
# kubectl takes no flag before a plugin's name: the kubeconfig goes after it, to gpuop.
plugin() { PATH="$plugins:$PATH" "$E2E_STATE/bin/kubectl" gpuop "$@" --kubeconfig "$E2E_STATE/kubeconfig"; }
status_text=$(plugin status -n "$E2E_NAMESPACE" --context "$context") &&
  e2e_fail "kubectl gpuop status exited 0 on a policy that is not ready"
printf '%s\n' "$status_text" | sed 's/^/  /'
[[ "$status_text" == *"PODS READY"*"operand pods not ready:"*"$E2E_NODE  nvidia-driver-daemonset-"* ]] ||
  e2e_fail "kubectl gpuop status does not name the driver pod that is not ready"
refused=$(plugin status --context no-such-context 2>&1) &&
  e2e_fail "kubectl gpuop status took a context the kubeconfig does not have"
[[ "$refused" == *no-such-context* ]] || e2e_fail "the refusal does not name the context: $refused"
e2e_log "ok: kubectl gpuop status names the driver pod; an unknown --context is refused by name"

# Sharing and MIG on the container node, set as NVIDIA's docs set them: a ConfigMap of device
# plugin configs with a time-slicing one, the ClusterPolicy naming it, the node's
# nvidia.com/device-plugin.config picking it, and a MIG layout on nvidia.com/mig.config. GPU
# feature discovery, which cannot run here (no GPU), would label the node
# nvidia.com/mig.capable=true: the test does in its place.
show kubectl apply -f - <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: time-slicing-config
  namespace: $E2E_NAMESPACE
data:
  any: |
    version: v1
  ts: |
    version: v1
    sharing:
      timeSlicing:
        resources:
          - name: nvidia.com/gpu
            replicas: 4
YAML
show kubectl patch clusterpolicy/cluster-policy --type=merge \
  -p '{"spec": {"devicePlugin": {"config": {"name": "time-slicing-config", "default": "any"}}}}'
show kubectl label node "$E2E_NODE" nvidia.com/device-plugin.config=ts nvidia.com/mig.capable=true \
  --overwrite
# A MIG-capable node without a layout gets MIG off (migManager.config.default) and the manager.
e2e_wait 60 "nvidia.com/mig.config=all-disabled on the MIG-capable node" \
  '[[ "$(node_label nvidia.com/mig.config)" == all-disabled ]]'
e2e_wait 60 "the MIG manager's deploy label" \
  '[[ "$(node_label nvidia.com/gpu.deploy.mig-manager)" == true ]]'
e2e_log "ok: nvidia.com/mig.config=all-disabled and nvidia.com/gpu.deploy.mig-manager=true"
show kubectl label node "$E2E_NODE" nvidia.com/mig.config=all-1g.10gb --overwrite
checked_ts() {
  kubectl get configmap -n "$E2E_NAMESPACE" nvidia-device-plugin-checked-configs \
    -o jsonpath='{.data.ts}' 2>/dev/null
}
e2e_wait 60 "the checked copy of the device plugin configs" '[[ "$(checked_ts)" == *"replicas: 4"* ]]'
e2e_log "ok: the checked copy holds config ts with replicas: 4"
config_manager_env() {
  kubectl get ds -n "$E2E_NAMESPACE" "$1" -o json | jq -r '.spec.template.spec.containers[]
    | select(.name == "config-manager") | .env[] | select(.value != null) | "\(.name)=\(.value)"'
}
e2e_wait 60 "the device plugin's config-manager sidecar" \
  '[[ "$(config_manager_env nvidia-device-plugin-daemonset)" == *DEFAULT_CONFIG=any* ]]'
expect_contains "$(config_manager_env nvidia-device-plugin-daemonset)" \
  "NODE_LABEL=nvidia.com/device-plugin.config" "the plugin's config-manager"
expect_contains "$(kubectl get ds -n "$E2E_NAMESPACE" nvidia-device-plugin-daemonset -o json |
  jq -r '[.spec.template.spec.volumes[] | .configMap.name // empty] | join(",")')" \
  nvidia-device-plugin-checked-configs "the ConfigMaps the plugin mounts"
expect_contains "$(config_manager_env nvidia-device-plugin-mps-control-daemon)" \
  "PROCESS_TO_SIGNAL=/usr/bin/mps-control-daemon" "the MPS control daemon's config-manager"
expect_eq "$(kubectl get ds -n "$E2E_NAMESPACE" nvidia-mig-manager -o json |
  jq -r '.spec.template.spec.nodeSelector | to_entries | map("\(.key)=\(.value)") | join(",")')" \
  nvidia.com/gpu.deploy.mig-manager=true "the MIG manager's node selector"
# As NVIDIA's MIG manager leaves them mid-repartition: the operands that hold the GPUs paused.
# gpuop's routing leaves them so, and its status says reconfiguring, not broken.
show kubectl label node "$E2E_NODE" nvidia.com/gpu.deploy.device-plugin=paused-for-mig-change \
  nvidia.com/mig.config.state=pending --overwrite
e2e_wait 60 "kubectl gpuop status to show the layout and the sharing config" \
  '[[ "$(plugin status -n "$E2E_NAMESPACE" 2>&1)" == *"all-1g.10gb: reconfiguring"*" ts"* ]]'
plugin status -n "$E2E_NAMESPACE" 2>&1 | sed -n '1,/^$/p' | sed 's/^/  /' || true
e2e_log "ok: kubectl gpuop status shows all-1g.10gb: reconfiguring and config ts"
# A bad edit: one replica is not sharing. The ClusterPolicy says so, with a Warning Event, and
# the copy the plugin reads keeps the last good version.
show kubectl patch configmap -n "$E2E_NAMESPACE" time-slicing-config --type=merge -p \
  '{"data": {"ts": "version: v1\nsharing:\n  timeSlicing:\n    resources:\n      - name: nvidia.com/gpu\n        replicas: 1\n"}}'
e2e_wait 60 "the ClusterPolicy to name the bad config" \
  '[[ "$(policy_reason)" == InvalidDevicePluginConfig:* ]]'
e2e_log "ok: $(policy_reason)"
policy_events() {
  kubectl get events.events.k8s.io -A -o json | jq -r --arg r "$1" '[.items[]
    | select(.regarding.kind == "ClusterPolicy" and .reason == $r)]
    | sort_by(.metadata.creationTimestamp) | .[] | "\(.type) \(.reason): \(.note)"'
}
e2e_wait 60 "the InvalidDevicePluginConfig Event" \
  '[[ -n "$(policy_events InvalidDevicePluginConfig)" ]]'
expect_contains "$(policy_events InvalidDevicePluginConfig | tail -1)" \
  'Warning InvalidDevicePluginConfig: ConfigMap gpu-operator/time-slicing-config, config "ts"' \
  "the Event"
expect_contains "$(checked_ts)" "replicas: 4" "the checked copy after the bad edit"
expect_eq "$(node_label nvidia.com/mig.config)" all-1g.10gb "the admin's MIG layout"
expect_eq "$(node_label nvidia.com/gpu.deploy.device-plugin)" paused-for-mig-change \
  "the device plugin's deploy label while the MIG manager holds it"
# The MIG manager's success, as it leaves the labels; then the sharing setup goes.
show kubectl label node "$E2E_NODE" nvidia.com/gpu.deploy.device-plugin=true \
  nvidia.com/mig.config.state=success --overwrite
show kubectl patch clusterpolicy/cluster-policy --type=merge \
  -p '{"spec": {"devicePlugin": {"config": {"name": "", "default": ""}}}}'
show kubectl label node "$E2E_NODE" nvidia.com/device-plugin.config- nvidia.com/mig.capable- \
  nvidia.com/mig.config- nvidia.com/mig.config.state-
show kubectl delete configmap -n "$E2E_NAMESPACE" time-slicing-config
e2e_wait 60 "the ClusterPolicy to drop the config problem" \
  '[[ "$(policy_reason)" != InvalidDevicePluginConfig:* ]]'
rm -rf "$plugins"

show kubectl label node "$E2E_NODE" nvidia.com/gpu.workload.config=vm-passthrough --overwrite
show sim_nvidia_module unload
# The toolkit's pod stops: NVIDIA's installer takes its handlers out (the drop-in goes, the
# import line stays, as upstream); containerd, restarted, refuses the handler again.
e2e_wait 90 "the toolkit's pod to go" \
  '[[ -z "$(kubectl get pods -n "$E2E_NAMESPACE" -l app=nvidia-container-toolkit-daemonset -o name)" ]]'
[[ ! -f "$drop_in" ]] || e2e_fail "the toolkit left its drop-in $drop_in"
show restart_containerd
start_runtime_class_pod nvidia-gone nvidia
e2e_wait 60 "containerd to refuse the nvidia handler again" \
  '[[ "$(pod_events nvidia-gone)" == *"no runtime for \"nvidia\" is configured"* ]]'
kubectl delete pod nvidia-gone --wait=false >/dev/null
e2e_log "ok: the drop-in is gone and containerd refuses the nvidia handler again"
e2e_wait 60 "the VFIO manager's deploy label after the hand-over" \
  '[[ "$(node_label nvidia.com/gpu.deploy.vfio-manager)" == true ]]'
expect_eq "$(kubectl get pods -n "$E2E_NAMESPACE" -l app=nvidia-driver-daemonset -o name)" "" \
  "driver pods once the VFIO manager may start"
e2e_log "ok: the VFIO manager's label is true and no driver pod is left"
kubectl get events -n default --field-selector reason=WaitingForGpuHandOver \
  -o custom-columns=REASON:.reason,MESSAGE:.message --no-headers 2>/dev/null | sed 's/^/  /' || true
e2e_wait 120 "the sandbox agents to come back" '[[ "$(ready_daemonsets)" == "$kSandboxAgents" ]]'
e2e_wait 60 "pgpu back in allocatable" '[[ "$(allocatable nvidia.com/pgpu)" == 2 ]]'
e2e_log "ok: agents and nvidia.com/pgpu=2 are back"
# No container node left: the container DaemonSets select no node, and that is ready.
wait_policy_ready 90

show kubectl label node "$E2E_NODE" nvidia.com/gpu.deploy.operands=false
e2e_wait 90 "every agent to leave" '[[ -z "$(ready_daemonsets)" ]]'
expect_ne "$(node_label nvidia.com/gpu.deploy.kata-manager)" true "kata-manager deploy label"
show kubectl label node "$E2E_NODE" nvidia.com/gpu.deploy.operands-
e2e_wait 120 "the agents after operands=false is lifted" '[[ "$(ready_daemonsets)" == "$kSandboxAgents" ]]'
wait_policy_ready 120
e2e_log "ok: gpu.deploy.operands=false got nothing; lifting it brought everything back"
