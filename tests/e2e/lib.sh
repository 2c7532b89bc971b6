# Shared by scripts/demo and the e2e tests: the one-node cluster (tools/testenv/node-cluster)
# with a simulated GPU node (gpuop-sim-node), gpuop's image loaded, and the chart installed.
# Sourced, not run. Callers set E2E_STATE (a folder of their own) before calling e2e_up.

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_BUILD=${E2E_BUILD:-$E2E_ROOT/build}
E2E_IMAGE=localhost/gpuop:dev
E2E_NODE=gpuop-e2e-node
E2E_NAMESPACE=gpu-operator

e2e_log() { printf '%s e2e: %s\n' "$(date +%T)" "$*" >&2; }
e2e_fail() { e2e_log "FAIL: $*"; exit 1; }

kubectl() { "$E2E_STATE/bin/kubectl" --kubeconfig "$E2E_STATE/kubeconfig" "$@"; }
helm() { "$E2E_HELM" --kubeconfig "$E2E_STATE/kubeconfig" "$@"; }

# Polls COMMAND (a string for eval) until it succeeds, for at most SECONDS.
e2e_wait() {
  local seconds=$1 what=$2 command=$3 deadline=$((SECONDS + $1))
  until eval "$command" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { e2e_log "timed out after ${seconds}s waiting for $what"; return 1; }
    sleep 1
  done
}

# The cluster, the simulated node's root, the image. Prints nothing on stdout.
e2e_up() {
  E2E_HELM=$("$E2E_ROOT/tools/helm/build.sh" 2>/dev/null | tail -1)
  export E2E_HELM
  [[ -x "$E2E_BUILD/src/cli/gpuop" && -x "$E2E_BUILD/tests/fixtures/gpuop-sim-node" ]] ||
    e2e_fail "build gpuop first (cmake --build --preset default)"
  "$E2E_ROOT/tools/testenv/node-cluster" up "$E2E_STATE" --node-name "$E2E_NODE" \
    ${E2E_WATCH_PARENT:+--watch-parent} >/dev/null
  E2E_SIM_ROOT=$E2E_STATE/sim-node
  "$E2E_BUILD/tests/fixtures/gpuop-sim-node" "$E2E_SIM_ROOT" 2 >/dev/null
  if [[ ! -f "$E2E_BUILD/image/gpuop-image.tar" ||
        "$E2E_BUILD/src/cli/gpuop" -nt "$E2E_BUILD/image/gpuop-image.tar" ]]; then
    "$E2E_ROOT/scripts/build-image" --binary "$E2E_BUILD/src/cli/gpuop" --tag "$E2E_IMAGE" \
      --out "$E2E_BUILD/image/gpuop-image.tar" >&2
  fi
  "$E2E_ROOT/tools/testenv/node-cluster" import "$E2E_STATE" "$E2E_BUILD/image/gpuop-image.tar" \
    2>/dev/null
  # What node-feature-discovery would label on a node with NVIDIA PCI devices; NFD itself is
  # not part of gpuop (the chart says so).
  kubectl label node "$E2E_NODE" feature.node.kubernetes.io/pci-10de.present=true --overwrite \
    >/dev/null
}

e2e_down() {
  "$E2E_ROOT/tools/testenv/node-cluster" down "$E2E_STATE" 2>/dev/null || true
}

# helm install with the seeds' --set lines; extra arguments are passed on.
e2e_install() {
  helm install gpuop "$E2E_ROOT/deployments/helm/gpuop" -n "$E2E_NAMESPACE" --create-namespace \
    -f "$E2E_ROOT/tests/e2e/values-sim-node.yaml" --set hostPaths.rootFS="$E2E_SIM_ROOT" "$@"
}

policy_state() { kubectl get clusterpolicy cluster-policy -o jsonpath='{.status.state}' 2>/dev/null; }
node_label() {
  kubectl get node "$E2E_NODE" -o json | jq -r --arg k "$1" '.metadata.labels[$k] // ""'
}
allocatable() {
  kubectl get node "$E2E_NODE" -o json | jq -r --arg k "$1" '.status.allocatable[$k] // "0"'
}
