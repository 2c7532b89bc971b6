#!/usr/bin/env bash
# Faults on the running cluster: the kubelet restarted (the device plugin registers again and
# the GPUs stay allocatable), the leading operator pod deleted mid-reconcile (the standby
# finishes the job), a node agent killed mid-work (no GPU left off vfio, no label left
# paused), containerd restarted (the agents keep running and new pods still get GPUs).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
: "${E2E_STATE:?}"
e2e_attach
plugin_registrations() {
  kubectl logs -n "$E2E_NAMESPACE" -l app=nvidia-kata-sandbox-device-plugin-daemonset \
    -c nvidia-kata-sandbox-device-plugin --tail=-1 | grep -c 'registered with kubelet' || true
}
gpu_drivers() {
  local link bdf out=""
  for bdf in 0000:18:00.0 0000:38:00.0; do
    link=$(readlink "$E2E_SIM_ROOT/sys/bus/pci/devices/$bdf/driver" || echo none)
    out+="$bdf=$(basename "$link") "
  done
  echo "${out% }"
}

wait_policy_ready 120
e2e_wait 120 "the agents" '[[ "$(ready_daemonsets)" == "$kSandboxAgents" ]]'

# 1. kubelet restart: it deletes every plugin socket; the plugin sees and registers again.
before=$(plugin_registrations)
show "$E2E_ROOT/tools/testenv/node-cluster" restart-kubelet "$E2E_STATE"
e2e_wait 60 "the device plugin to register again" '(($(plugin_registrations) > before))'
e2e_wait 60 "nvidia.com/pgpu after the restart" '[[ "$(allocatable nvidia.com/pgpu)" == 2 ]]'
run_pgpu_pod after-kubelet-restart "ls /dev/vfio" >/dev/null
kubectl delete pod after-kubelet-restart --wait=false >/dev/null
e2e_log "ok: after a kubelet restart the plugin registered again and a pod got a GPU"

# 2. The leading operator deleted right after a change it must reconcile.
leader=$(kubectl get lease -n "$E2E_NAMESPACE" gpuop-operator -o jsonpath='{.spec.holderIdentity}')
show kubectl label node "$E2E_NODE" nvidia.com/gpu.workload.config=container --overwrite
show kubectl delete pod -n "$E2E_NAMESPACE" "$leader" --wait=false
e2e_wait 90 "another replica to lead" \
  '[[ -n "$(kubectl get lease -n "$E2E_NAMESPACE" gpuop-operator -o jsonpath={.spec.holderIdentity})" && "$(kubectl get lease -n "$E2E_NAMESPACE" gpuop-operator -o jsonpath={.spec.holderIdentity})" != "$leader" ]]'
e2e_wait 90 "the flip to container to finish" '[[ -z "$(ready_daemonsets)" ]]'
show kubectl label node "$E2E_NODE" nvidia.com/gpu.workload.config=vm-passthrough --overwrite
e2e_wait 120 "the agents back under the new leader" '[[ "$(ready_daemonsets)" == "$kSandboxAgents" ]]'
e2e_wait 120 "both operator replicas" \
  '[[ "$(kubectl get deploy -n "$E2E_NAMESPACE" gpuop-operator -o jsonpath={.status.readyReplicas})" == 2 ]]'
e2e_log "ok: $leader deleted mid-reconcile; $(kubectl get lease -n "$E2E_NAMESPACE" gpuop-operator -o jsonpath='{.spec.holderIdentity}') finished it"

# 3. Node agents killed with SIGKILL (no cleanup at all): the VFIO manager and the CC manager.
restarts() {
  kubectl get pods -n "$E2E_NAMESPACE" -l "app in (nvidia-vfio-manager,nvidia-cc-manager)" -o json |
    jq '[.items[].status.containerStatuses[].restartCount] | add'
}
before=$(restarts)
for agent in vfio-manager cc-manager; do
  pid=$(pgrep -f "^gpuop $agent " | head -1)
  [[ -n "$pid" ]] || e2e_fail "no gpuop $agent process"
  show kill -KILL "$pid"
done
e2e_wait 60 "the kubelet to restart both" '(($(restarts) >= before + 2))'
e2e_wait 120 "the killed agents to be Ready again" '[[ "$(ready_daemonsets)" == "$kSandboxAgents" ]]'
expect_eq "$(gpu_drivers)" "0000:18:00.0=vfio-pci 0000:38:00.0=vfio-pci" "GPU drivers after the kill"
paused=$(kubectl get node "$E2E_NODE" -o json | jq -r '[.metadata.labels | to_entries[] | select(.value | test("paused")) | .key] | join(",")')
expect_eq "$paused" "" "labels left paused"
wait_policy_ready 120

# 4. containerd restarted: running pods stay, new ones start and still get GPUs.
show "$E2E_ROOT/tools/testenv/node-cluster" restart-containerd "$E2E_STATE"
run_pgpu_pod after-containerd-restart "ls /dev/vfio" >/dev/null
kubectl delete pod after-containerd-restart --wait=false >/dev/null
expect_eq "$(ready_daemonsets)" "$kSandboxAgents" "agents after the containerd restart"
wait_policy_ready 120
e2e_log "ok: after a containerd restart the agents kept running and a pod got a GPU"
