#!/usr/bin/env bash
# e2e setup: the one-node cluster with the simulated GPU node, gpuop released into the cluster's
# registry (scripts/release), NFD's image loaded, the node labelled vm-passthrough as an admin
# does before installing, then the release's chart installed with the seeds' --set lines: NFD
# comes with it and labels the node, gpuop routes it. Prints the benchmark figure: helm install
# to ClusterPolicy ready (the image pull and NFD's labelling included).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
: "${E2E_STATE:?}"
e2e_up
show kubectl label node "$E2E_NODE" nvidia.com/gpu.workload.config=vm-passthrough --overwrite
started=$(date +%s.%N)
show e2e_install --set sandboxWorkloads.enabled=true --set kataManager.enabled=true \
  --set ccManager.enabled=true >/dev/null
wait_policy_ready 180 || {
  kubectl get pods -A
  kubectl get clusterpolicy -o yaml
  kubectl logs -n "$E2E_NAMESPACE" -l app.kubernetes.io/name=node-feature-discovery --tail=30 \
    --prefix
  exit 1
}
seconds=$(echo "$(date +%s.%N) - $started" | bc)
printf 'bench: helm install to ClusterPolicy ready: %.1f s (goal < 30 s, the image pulled from the cluster registry)\n' "$seconds" |
  tee "$E2E_STATE/bench-install.txt" >&2
expect_eq "$(ready_daemonsets)" "$kSandboxAgents" "operand DaemonSets ready"
# Idle figures: after the first applies and rescans have settled.
sleep 10
print_footprint | tee "$E2E_STATE/bench-rss.txt" >&2
