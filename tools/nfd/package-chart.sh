#!/usr/bin/env bash
# Packs upstream Node Feature Discovery's Helm chart, a dependency of gpuop's chart (Chart.yaml,
# nfd.enabled), into deployments/helm/gpuop/charts/, where `helm install` of the chart folder
# looks for it. The chart comes from the NFD Go module pinned in go.mod (its zip holds the chart
# under deployment/helm/node-feature-discovery), checked against go.sum; it is packed with the
# release's version (the tag's Chart.yaml carries a placeholder), as NFD's own releases are.
# A second run with the chart in place does nothing. Prints the chart's path.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/testenv/lib.sh
source "$here/../testenv/lib.sh"

nfd_module=sigs.k8s.io/node-feature-discovery
version=$(go_mod_version "$here/go.mod" "$nfd_module")
[[ -n "$version" ]] || { log "nfd: no $nfd_module version in go.mod"; exit 1; }
charts=$(cd "$here/../.." && pwd)/deployments/helm/gpuop/charts
out=$charts/node-feature-discovery-${version#v}.tgz
if [[ -f "$out" ]]; then
  echo "$out"
  exit 0
fi
# The dependency's version in gpuop's Chart.yaml must be this one, or helm refuses the chart.
grep -q "version: ${version#v}\$" "$here/../../deployments/helm/gpuop/Chart.yaml" ||
  { log "nfd: Chart.yaml does not depend on node-feature-discovery ${version#v}"; exit 1; }

source_dir=$(cd "$here" && GOFLAGS=-mod=readonly go mod download -json "$nfd_module" | jq -r .Dir)
helm=$("$here/../helm/build.sh" | tail -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$source_dir/deployment/helm/node-feature-discovery" "$work/"
chmod -R u+w "$work"
"$helm" package --version "${version#v}" --app-version "$version" -d "$work/out" \
  "$work/node-feature-discovery" >/dev/null
mkdir -p "$charts"
rm -f "$charts"/node-feature-discovery-*.tgz
mv "$work/out/node-feature-discovery-${version#v}.tgz" "$out"
log "nfd: chart ${version#v} packed into $out"
echo "$out"
