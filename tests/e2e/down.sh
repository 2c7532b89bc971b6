#!/usr/bin/env bash
# e2e cleanup: stops the cluster and removes its state, whatever the tests left.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
: "${E2E_STATE:?}"
e2e_down
