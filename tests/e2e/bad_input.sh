#!/usr/bin/env bash
# Bad input, each visible where an admin looks and nothing else disturbed: an invalid workload
# label (a Warning Event and a status condition; that node gets no operands), a ClusterPolicy
# with a wrong enum (refused by the CRD) or a field only gpuop can judge (an artifactsDir, a
# runtime class name: status InvalidSpec, the running agents untouched), a broken artifact
# reference (the Kata manager's Warning; the other agents stay ready).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
: "${E2E_STATE:?}"
e2e_attach
condition() {
  kubectl get clusterpolicy cluster-policy -o json |
    jq -r --arg t "$1" '.status.conditions[] | select(.type == $t) | "\(.reason): \(.message)"'
}
wait_policy_ready 120
e2e_wait 120 "the agents" '[[ "$(ready_daemonsets)" == "$kSandboxAgents" ]]'

# 1. A workload label with a typo.
show kubectl label node "$E2E_NODE" nvidia.com/gpu.workload.config=vm-pasthrough --overwrite
e2e_wait 60 "the InvalidWorkloadConfig Event" '[[ -n "$(node_events InvalidWorkloadConfig)" ]]'
expect_contains "$(node_events InvalidWorkloadConfig | tail -1)" "vm-pasthrough" "the Event's note"
e2e_wait 60 "the status to say so" '[[ "$(condition Ready)" == InvalidWorkloadConfig* ]]'
expect_eq "$(policy_state)" notReady "ClusterPolicy state"
e2e_wait 90 "the node's operands to leave" '[[ -z "$(ready_daemonsets)" ]]'
show kubectl label node "$E2E_NODE" nvidia.com/gpu.workload.config=vm-passthrough --overwrite
e2e_wait 120 "the agents back" '[[ "$(ready_daemonsets)" == "$kSandboxAgents" ]]'
wait_policy_ready 120

# 2a. A wrong enum: the CRD refuses it and the object stays as it was.
if out=$(kubectl patch clusterpolicy/cluster-policy --type=merge \
  -p '{"spec": {"sandboxWorkloads": {"defaultWorkload": "vm-pass"}}}' 2>&1); then
  e2e_fail "the apiserver took defaultWorkload=vm-pass: $out"
fi
expect_contains "$out" "Unsupported value: \"vm-pass\"" "the apiserver's refusal"
expect_eq "$(kubectl get clusterpolicy cluster-policy -o jsonpath='{.spec.sandboxWorkloads.defaultWorkload}')" \
  container "defaultWorkload after the refused patch"

# 2b. A field the schema lets through but gpuop cannot use: status says which; agents stay.
show kubectl patch clusterpolicy/cluster-policy --type=merge \
  -p '{"spec": {"kataManager": {"config": {"artifactsDir": "relative/dir"}}}}'
e2e_wait 60 "InvalidSpec in the status" '[[ "$(condition Ready)" == InvalidSpec* ]]'
expect_contains "$(condition Ready)" "spec.kataManager.config.artifactsDir" "the condition's message"
sleep 5
expect_eq "$(ready_daemonsets)" "$kSandboxAgents" "agents while the spec is invalid"
show kubectl patch clusterpolicy/cluster-policy --type=json \
  -p '[{"op": "replace", "path": "/spec/kataManager/config/artifactsDir", "value": "/opt/nvidia-gpu-operator/artifacts/runtimeclasses"}]'
wait_policy_ready 120

# 2c. A runtime class name the Kata manager could not use (it would refuse its whole config and
# with it every class): InvalidSpec naming the entry; nothing rendered from it; agents stay.
classes=$(kubectl get clusterpolicy cluster-policy -o json | jq -c '.spec.kataManager.config.runtimeClasses // []')
show kubectl patch clusterpolicy/cluster-policy --type=merge -p '{"spec": {"kataManager": {"config":
  {"runtimeClasses": [{"name": "../../etc", "artifacts": {"url": "127.0.0.1:9/gpuop-e2e/kata-standin-artifacts:x"}}]}}}}'
e2e_wait 60 "InvalidSpec in the status" '[[ "$(condition Ready)" == InvalidSpec* ]]'
expect_contains "$(condition Ready)" "spec.kataManager.config.runtimeClasses[0].name" "the condition's message"
rendered=$(kubectl get configmap -n "$E2E_NAMESPACE" nvidia-kata-manager-config -o json | jq -r '.data["config.yaml"]')
expect_eq "$(jq -r '[.runtimeClasses[].name] | index("../../etc")' <<<"$rendered")" null "the bad name in the Kata manager's config"
sleep 5
expect_eq "$(ready_daemonsets)" "$kSandboxAgents" "agents while the spec is invalid"
show kubectl patch clusterpolicy/cluster-policy --type=merge \
  -p "{\"spec\": {\"kataManager\": {\"config\": {\"runtimeClasses\": $classes}}}}"
wait_policy_ready 120

# 3. A runtime class whose artifacts cannot be pulled.
show kubectl patch clusterpolicy/cluster-policy --type=merge -p '{"spec": {"kataManager": {"config":
  {"runtimeClasses": [{"name": "kata-qemu-nvidia-gpu", "artifacts": {"url": "127.0.0.1:9/gpuop-e2e/kata-standin-artifacts:broken"}}]}}}}'
e2e_wait 120 "the Kata manager's Warning" '[[ -n "$(node_events KataArtifactsFailed)" ]]'
expect_contains "$(node_events KataArtifactsFailed | tail -1)" "kata-qemu-nvidia-gpu" "the Event's note"
expect_contains "$(kubectl get runtimeclass -o name)" "kata-qemu-nvidia-gpu" "the RuntimeClass"
others=$(ready_daemonsets | tr ',' '\n' | grep -v kata-manager | paste -sd,)
expect_eq "$others" "nvidia-cc-manager,nvidia-kata-sandbox-device-plugin-daemonset,nvidia-sandbox-validator,nvidia-vfio-manager" \
  "the other agents while the artifacts fail"
# The seeds' classes back, their artifacts pulled from the cluster's registry again.
show kubectl patch clusterpolicy/cluster-policy --type=merge \
  -p "{\"spec\": {\"kataManager\": {\"config\": {\"runtimeClasses\": $classes}}}}"
e2e_wait 120 "the Kata manager ready again" '[[ "$(ready_daemonsets)" == "$kSandboxAgents" ]]'
wait_policy_ready 120
e2e_log "ok: every bad input was reported where an admin looks, and nothing else moved"
