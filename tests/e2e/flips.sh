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
wait_policy_ready 60

show kubectl label node "$E2E_NODE" nvidia.com/gpu.workload.config=vm-passthrough --overwrite
e2e_wait 120 "the sandbox agents to come back" '[[ "$(ready_daemonsets)" == "$kSandboxAgents" ]]'
e2e_wait 60 "pgpu back in allocatable" '[[ "$(allocatable nvidia.com/pgpu)" == 2 ]]'
e2e_log "ok: agents and nvidia.com/pgpu=2 are back"

show kubectl label node "$E2E_NODE" nvidia.com/gpu.deploy.operands=false
e2e_wait 90 "every agent to leave" '[[ -z "$(ready_daemonsets)" ]]'
expect_ne "$(node_label nvidia.com/gpu.deploy.kata-manager)" true "kata-manager deploy label"
show kubectl label node "$E2E_NODE" nvidia.com/gpu.deploy.operands-
e2e_wait 120 "the agents after operands=false is lifted" '[[ "$(ready_daemonsets)" == "$kSandboxAgents" ]]'
wait_policy_ready 120
e2e_log "ok: gpu.deploy.operands=false got nothing; lifting it brought everything back"
