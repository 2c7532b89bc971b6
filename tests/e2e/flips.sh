#!/usr/bin/env bash
# Workload flips move the operands: vm-passthrough -> container takes the sandbox agents (and
# their proofs) off the node, and back brings them; gpu.deploy.operands=false gets nothing.
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
# As far as a node without a driver goes: the toolkit's driver-validation init container runs
# (it waits for a driver that never comes), with the driver's root where hostPaths puts it.
e2e_wait 60 "the toolkit's driver-validation to run" \
  '[[ -n "$(kubectl get pods -n "$E2E_NAMESPACE" -l app=nvidia-container-toolkit-daemonset \
        -o jsonpath="{.items[0].status.initContainerStatuses[0].state.running}")" ]]'
e2e_log "ok: the toolkit's driver-validation runs, waiting for the driver"
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
rm -rf "$plugins"
e2e_log "ok: kubectl gpuop status names the driver pod; an unknown --context is refused by name"

show kubectl label node "$E2E_NODE" nvidia.com/gpu.workload.config=vm-passthrough --overwrite
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
