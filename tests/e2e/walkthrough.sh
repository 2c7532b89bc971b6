#!/usr/bin/env bash
# The seed docs' walkthrough for GPU passthrough to Kata, their commands as they print them,
# with gpuop in place of NVIDIA's operator, and what they show asserted.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
: "${E2E_STATE:?}"
e2e_attach

# Node prerequisites, as docs/install.md has an admin check them: `gpuop doctor` on the node.
# The simulated node's root holds its GPUs, IOMMU groups and vfio; the kubelet runs on this
# machine, so its Pod Resources check reads this machine's root (the real kubelet v1.35).
doctor=$("$E2E_BUILD/src/cli/gpuop" doctor --host-root "$E2E_SIM_ROOT" || true)
printf '%s\n' "$doctor" >&2
expect_contains "$doctor" "NVIDIA GPUs" "the doctor's GPU line"
kubelet_check=$("$E2E_BUILD/src/cli/gpuop" doctor --json --host-root / |
  jq -r '.checks[] | select(.name == "kubelet Pod Resources Get") | "\(.verdict): \(.detail)"' || true)
expect_contains "$kubelet_check" "ok: kubelet v1." "the doctor's kubelet Pod Resources check"
expect_contains "$kubelet_check" "on by default from 1.34" "the doctor's kubelet Pod Resources check"

# "Label the node for passthrough" (already done before the install; --overwrite is a no-op).
show kubectl label node "$E2E_NODE" nvidia.com/gpu.workload.config=vm-passthrough --overwrite

# Installed from the registry, as scripts/release printed it: the operator and every agent
# run the image the release pushed, by the digest the registry gives for its tag.
e2e_log "installed with: $(e2e_release_install_line) (and the seeds' --set lines)"
registry=$(e2e_registry)
version=$(e2e_chart_args | sed -n '/^--version$/{n;p}')
pushed=$(curl -fsSI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$registry/v2/gpuop/manifests/${version//+/_}" | tr -d '\r' |
  sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
expect_eq "$(kubectl get deploy -n "$E2E_NAMESPACE" gpuop-operator \
  -o jsonpath='{.spec.template.spec.containers[0].image}')" "$registry/gpuop@$pushed" \
  "the operator's image"
expect_eq "$(kubectl get ds -n "$E2E_NAMESPACE" nvidia-kata-manager \
  -o jsonpath='{.spec.template.spec.containers[0].image}')" "$registry/gpuop@$pushed" \
  "the Kata manager's image"

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
# "kubectl get runtimeclass": the seeds' two Kata classes, each handled by its own name.
show kubectl get runtimeclass
classes=$(kubectl get runtimeclass -o json |
  jq -r '[.items[] | select(.metadata.name | startswith("kata-")) | "\(.metadata.name)=\(.handler)"] | sort | join(",")')
expect_eq "$classes" "kata-qemu-nvidia-gpu-snp=kata-qemu-nvidia-gpu-snp,kata-qemu-nvidia-gpu=kata-qemu-nvidia-gpu" \
  "the Kata RuntimeClasses and their handlers"
# Its pods go to CC-capable nodes that run the Kata manager (which installed the class there).
expect_eq "$(kubectl get runtimeclass kata-qemu-nvidia-gpu-snp -o json | jq -c '.scheduling.nodeSelector')" \
  '{"nvidia.com/cc.capable":"true","nvidia.com/gpu.deploy.kata-manager":"true"}' "the SNP class's node selector"
# The Kata manager pulled the artifacts of the class this node takes (it is not CC-capable, so
# not the SNP one) from the cluster's registry, installed them, registered the handler in a
# drop-in, and kept the node's containerd config, adding only its import.
artifacts=$E2E_SIM_ROOT/opt/nvidia-gpu-operator/artifacts/runtimeclasses
show ls "$artifacts/kata-qemu-nvidia-gpu"
expect_contains "$(cat "$artifacts/kata-qemu-nvidia-gpu/configuration-nvidia-gpu-qemu.toml")" \
  "runtimeclasses/kata-qemu-nvidia-gpu/vmlinux-gpuop-standin.container'" \
  "the installed configuration's kernel, where the manager put it"
[[ ! -e "$artifacts/kata-qemu-nvidia-gpu-snp" ]] ||
  e2e_fail "the SNP class's artifacts were installed on a node that is not CC-capable"
drop_in=$E2E_SIM_ROOT/etc/containerd/conf.d/99-gpuop-kata.toml
expect_contains "$(cat "$drop_in")" "runtimes.kata-qemu-nvidia-gpu]" "the containerd handler in the drop-in"
expect_contains "$(cat "$drop_in")" "kata-qemu-nvidia-gpu/configuration-nvidia-gpu-qemu.toml" \
  "the handler's Kata configuration"
expect_contains "$(cat "$E2E_SIM_ROOT/etc/containerd/config.toml")" \
  'sandbox_image = "localhost/gpuop-e2e/pause:1"' "the node's own containerd settings"
expect_contains "$(cat "$E2E_SIM_ROOT/etc/containerd/config.toml")" "/etc/containerd/conf.d/" \
  "the drop-in's import in the node's containerd config"
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
