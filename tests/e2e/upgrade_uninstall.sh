#!/usr/bin/env bash
# helm upgrade changes what it should and nothing else; a device plugin rollout keeps its CDI
# spec; helm uninstall leaves the node as it was before gpuop (its labels off, the agents gone
# with their ready files and CDI spec), with the admin's own labels kept and the GPUs left on
# vfio-pci, as docs/install.md says.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
: "${E2E_STATE:?}"
e2e_attach
generations() {
  kubectl get ds,deploy -n "$E2E_NAMESPACE" -o json |
    jq -r '[.items[] | "\(.kind)/\(.metadata.name)=\(.metadata.generation)"] | sort | join(" ")'
}
cc_default() {
  kubectl get ds -n "$E2E_NAMESPACE" nvidia-cc-manager -o json |
    jq -r '.spec.template.spec.containers[0].env[] | select(.name == "DEFAULT_CC_MODE") | .value'
}
wait_policy_ready 120
before=$(generations)
expect_eq "$(cc_default)" on "DEFAULT_CC_MODE before the upgrade"

mapfile -t sim_node_args < <(e2e_sim_node_args)
mapfile -t chart_args < <(e2e_chart_args)
show helm upgrade gpuop "${chart_args[@]}" -n "$E2E_NAMESPACE" --reuse-values \
  "${sim_node_args[@]}" --set ccManager.defaultMode=off >/dev/null
e2e_wait 60 "DEFAULT_CC_MODE=off" '[[ "$(cc_default)" == off ]]'
after=$(generations)
changed=$(comm -13 <(tr ' ' '\n' <<<"$before" | sort) <(tr ' ' '\n' <<<"$after" | sort) |
  cut -d= -f1 | paste -sd,)
expect_eq "$changed" "DaemonSet/nvidia-cc-manager" "objects the upgrade changed"
wait_policy_ready 120

# A rollout of the device plugin keeps its CDI spec for the Kata pods that resolve their devices
# through it: the same file, never removed and written again.
spec=/var/run/cdi/nvidia.com-pgpu.yaml
inode=$(stat -c %i "$spec")
show kubectl rollout restart -n "$E2E_NAMESPACE" ds/nvidia-kata-sandbox-device-plugin-daemonset >/dev/null
show kubectl rollout status -n "$E2E_NAMESPACE" ds/nvidia-kata-sandbox-device-plugin-daemonset \
  --timeout=120s >/dev/null
expect_eq "$(stat -c %i "$spec" 2>/dev/null)" "$inode" "the CDI spec's inode across a plugin rollout"
wait_policy_ready 120

show helm uninstall gpuop -n "$E2E_NAMESPACE" --wait --timeout 5m >/dev/null
left=$(kubectl get node "$E2E_NODE" -o json | jq -r '[.metadata.labels | keys[]
  | select(startswith("nvidia.com/"))] | join(",")')
expect_eq "$left" "nvidia.com/gpu.workload.config" "nvidia.com labels left on the node"
e2e_wait 120 "the operand pods to go" \
  '[[ -z "$(kubectl get pods -n "$E2E_NAMESPACE" -o name)" ]]'
expect_eq "$(kubectl get clusterpolicy -o name)" "" "ClusterPolicies left"
expect_eq "$(kubectl get ds -A -l app.kubernetes.io/managed-by=gpuop -o name)" "" "DaemonSets left"
expect_eq "$(ls /run/nvidia/validations 2>/dev/null | paste -sd,)" "" "ready files left"
[[ ! -e /var/run/cdi/nvidia.com-pgpu.yaml ]] || e2e_fail "the pgpu CDI spec was left behind"
e2e_log "ok: no CDI spec left"
expect_eq "$(readlink "$E2E_SIM_ROOT/sys/bus/pci/devices/0000:18:00.0/driver" | xargs basename)" \
  vfio-pci "a GPU's driver after uninstall (documented: stays until reboot)"
