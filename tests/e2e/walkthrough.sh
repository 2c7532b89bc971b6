#!/usr/bin/env bash
# The seed docs' walkthrough for GPU passthrough to Kata, their commands as they print them,
# with gpuop in place of NVIDIA's operator, and what they show asserted.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
: "${E2E_STATE:?}"
e2e_attach

# "Label the node for passthrough" (already done before the install; --overwrite is a no-op).
show kubectl label node "$E2E_NODE" nvidia.com/gpu.workload.config=vm-passthrough --overwrite

# "Verify that the operator and operand pods are running."
show kubectl get pods -n "$E2E_NAMESPACE"
not_running=$(kubectl get pods -n "$E2E_NAMESPACE" -o json |
  jq -r '[.items[] | select(.status.phase != "Running" and .status.phase != "Succeeded") | .metadata.name] | join(",")')
expect_eq "$not_running" "" "pods not Running"
expect_eq "$(kubectl get deploy -n "$E2E_NAMESPACE" gpuop-operator -o jsonpath='{.status.readyReplicas}')" 2 \
  "operator replicas ready"
# The pod list holds NFD's master, worker and garbage collector, as the seeds' does.
expect_eq "$(kubectl get pods -n "$E2E_NAMESPACE" -l app.kubernetes.io/name=node-feature-discovery \
  -o json | jq -r '[.items[] | select(.status.phase == "Running") | .metadata.labels.role]
  | sort | join(",")')" "gc,master,worker" "NFD pods Running"
# The GPU label gpuop routes on is NFD's: the worker found the NVIDIA display controllers in the
# node's PCI tree, and the master lists the label among those it manages.
expect_eq "$(node_label feature.node.kubernetes.io/pci-10de.present)" true "NFD's NVIDIA PCI label"
expect_contains "$(kubectl get node "$E2E_NODE" \
  -o jsonpath='{.metadata.annotations.nfd\.node\.kubernetes\.io/feature-labels}')" \
  "pci-10de.present" "labels NFD's master manages"
expect_eq "$(node_label nvidia.com/gpu.present)" true "gpu.present, derived from NFD's label"

# "Verify the GPUs are advertised": the seeds' jq on the node's allocatable.
show kubectl get nodes -l nvidia.com/gpu.present -o json |
  jq '.items[0].status.allocatable | with_entries(select(.key | startswith("nvidia.com/")))'
expect_eq "$(allocatable nvidia.com/pgpu)" 2 "allocatable nvidia.com/pgpu"
show kubectl get runtimeclass
expect_contains "$(kubectl get runtimeclass -o name)" "runtimeclass.node.k8s.io/nvidia" "RuntimeClasses"
expect_eq "$(node_label nvidia.com/gpu.deploy.vfio-manager)" true "vfio-manager deploy label"
expect_eq "$(node_label nvidia.com/gpu.deploy.kata-sandbox-device-plugin)" true \
  "kata-sandbox-device-plugin deploy label"

# The CDI spec the device plugin writes, with one device per advertised ID.
cdi=/var/run/cdi/nvidia.com-pgpu.yaml
show cat "$cdi"
expect_contains "$(cat "$cdi")" 'kind: "nvidia.com/pgpu"' "CDI spec kind"
expect_contains "$(cat "$cdi")" "hostPath: \"$E2E_SIM_ROOT/dev/vfio/40\"" "CDI spec host path"

# "Run a sample workload" asking for one passthrough GPU; the device plugin's allocation shows
# inside the container (the workload image is a busybox: there is no VM here).
run_pgpu_pod pgpu-workload 'echo PCI_RESOURCE_NVIDIA_COM_PGPU=$PCI_RESOURCE_NVIDIA_COM_PGPU; ls /dev/vfio' 60
allocation=$(kubectl logs pgpu-workload)
printf '%s\n' "$allocation" >&2
expect_contains "$allocation" "PCI_RESOURCE_NVIDIA_COM_PGPU=0000:" "the GPU's address in the pod"
expect_contains "$allocation" "vfio" "/dev/vfio/vfio in the pod"
group=$(grep -Eo '^(40|41)$' <<<"$allocation" | head -1)
[[ -n "$group" ]] || e2e_fail "no IOMMU group node (40 or 41) in the pod's /dev/vfio"
e2e_log "ok: the pod got /dev/vfio/$group"
kubectl delete pod pgpu-workload --wait=false >/dev/null

# "Patch the ClusterPolicy": the seeds' merge patch of the default CC mode reaches the agent.
show kubectl patch clusterpolicy/cluster-policy --type=merge -p '{"spec": {"ccManager": {"defaultMode": "devtools"}}}'
e2e_wait 60 "DEFAULT_CC_MODE=devtools on the CC manager" \
  '[[ "$(kubectl get ds -n "$E2E_NAMESPACE" nvidia-cc-manager -o json | jq -r ".spec.template.spec.containers[0].env[] | select(.name == \"DEFAULT_CC_MODE\") | .value")" == devtools ]]'
e2e_log "ok: the CC manager's DEFAULT_CC_MODE is devtools"

# "Set the CC mode": this host has no TEE, so gpuop keeps the GPUs off and says why.
before=$(node_events CcModeNeedsTee | wc -l)
show kubectl label node "$E2E_NODE" nvidia.com/cc.mode=on --overwrite
e2e_wait 60 "the CC manager's Event" '(($(node_events CcModeNeedsTee | wc -l) > before))'
expect_contains "$(node_events CcModeNeedsTee | tail -1)" "the host has no TEE enabled" "CC Event"
expect_eq "$(node_label nvidia.com/cc.mode.state)" off "nvidia.com/cc.mode.state"
expect_eq "$(node_label nvidia.com/cc.capable)" false "nvidia.com/cc.capable"
show kubectl label node "$E2E_NODE" nvidia.com/cc.mode-
show kubectl patch clusterpolicy/cluster-policy --type=merge -p '{"spec": {"ccManager": {"defaultMode": "on"}}}'

# The node agents are confined (templates/agent-admission-policy.yaml, docs/security.md): the
# CC manager's own token, bound to its running pod, may write its keys on its own Node only.
# Another Node (an object without a kubelet) shows it cannot reach elsewhere.
cc_pod=$(kubectl get pods -n "$E2E_NAMESPACE" -l app=nvidia-cc-manager -o jsonpath='{.items[0].metadata.name}')
[[ -n "$cc_pod" ]] || e2e_fail "no CC manager pod to take a token from"
token=$(kubectl create token -n "$E2E_NAMESPACE" nvidia-cc-manager --bound-object-kind Pod \
  --bound-object-name "$cc_pod")
agent_config="$E2E_STATE/cc-manager-token.kubeconfig"
cat >"$agent_config" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: $(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
    certificate-authority-data: $(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
users:
- {name: cc-manager, user: {token: $token}}
contexts:
- {name: e2e, context: {cluster: e2e, user: cc-manager}}
current-context: e2e
EOF
as_cc_manager() { "$E2E_STATE/bin/kubectl" --kubeconfig "$agent_config" "$@"; }
kubectl create -f - >/dev/null <<EOF
{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "gpuop-e2e-elsewhere"}}
EOF
refused() {  # what the API server answered a request that must be refused
  local answer
  if answer=$(show as_cc_manager "$@" 2>&1); then e2e_fail "not refused: $*"; fi
  printf '%s\n' "$answer" >&2
  printf '%s' "$answer"
}
# Its own key on its own Node goes through (changed, then set back).
ready_before=$(node_label nvidia.com/cc.ready.state)
show as_cc_manager label node "$E2E_NODE" nvidia.com/cc.ready.state=e2e-probe --overwrite >&2
expect_eq "$(node_label nvidia.com/cc.ready.state)" e2e-probe "the CC manager's own label"
if [[ -n "$ready_before" ]]; then
  show as_cc_manager label node "$E2E_NODE" "nvidia.com/cc.ready.state=$ready_before" --overwrite >&2
else
  show as_cc_manager label node "$E2E_NODE" nvidia.com/cc.ready.state- >&2
fi
expect_contains "$(refused label node gpuop-e2e-elsewhere nvidia.com/cc.mode.state=on --overwrite)" \
  "may change only the Node its pod runs on ($E2E_NODE), not gpuop-e2e-elsewhere" "another Node"
expect_contains "$(refused label node "$E2E_NODE" nvidia.com/cc.mode=off --overwrite)" \
  "may not change the label(s) nvidia.com/cc.mode" "the admin's CC mode label"
expect_contains "$(refused label node "$E2E_NODE" nvidia.com/gpu.workload.config=container --overwrite)" \
  "may not change the label(s) nvidia.com/gpu.workload.config" "the workload label"
expect_contains "$(refused taint node "$E2E_NODE" gpuop.io/e2e=x:NoSchedule)" \
  "may not change a Node's spec" "a taint"
kubectl delete node gpuop-e2e-elsewhere >/dev/null
rm -f "$agent_config"
e2e_log "ok: the CC manager's token changes its own keys on its own Node and nothing else"

# helm test: gpuop status from inside the cluster.
# (The test pod runs `gpuop status --wait`, which exits 0 only once the policy is ready.)
report=$(show helm test gpuop -n "$E2E_NAMESPACE")
printf '%s\n' "$report" >&2
expect_contains "$report" "Phase:          Succeeded" "helm test's phase"
wait_policy_ready 120
