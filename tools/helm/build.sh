#!/usr/bin/env bash
# Builds the Helm CLI pinned in go.mod into the test cache (beside the Kubernetes binaries),
# keyed by go.mod, go.sum, this script and the Go toolchain; a second run does nothing.
# Prints the path of the helm binary on its last line of stdout.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/testenv/lib.sh
source "$here/../testenv/lib.sh"
version=$(go_mod_version "$here/go.mod" helm.sh/helm/v3)
key=$( (cat "$here/go.mod" "$here/go.sum" "$here/build.sh"; go version) | sha256sum | cut -c1-16)
dir="$(dirname "$(testenv_cache_root)")/helm/$version-$key"
if [[ -x "$dir/helm" ]]; then
  echo "$dir/helm"
  exit 0
fi
log "helm: building $version (about two minutes on a cold cache)"
mkdir -p "$dir"
cd "$here"
pkg=helm.sh/helm/v3/internal/version
GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X $pkg.version=$version" -o "$dir/helm.tmp" helm.sh/helm/v3/cmd/helm
mv "$dir/helm.tmp" "$dir/helm"
echo "$dir/helm"
