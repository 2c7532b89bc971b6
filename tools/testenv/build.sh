#!/usr/bin/env bash
# Builds the upstream Kubernetes binaries pinned in go.mod (kube-apiserver, kubectl) into a
# cache folder outside the checkout, keyed by everything that decides their bytes. A second run
# with the same key does nothing, so fresh clones on a set-up machine reuse the binaries.
#
# Prints the folder holding the binaries on its last line of stdout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/testenv/lib.sh
source "$here/lib.sh"

# The upstream commands to build, each k8s.io/kubernetes/cmd/<name> (tools.go lists them too).
commands="kube-apiserver kubectl kube-controller-manager kube-scheduler kubelet"

cache_dir=$(testenv_bin_dir)
stamp="$cache_dir/.complete"
if [[ -f "$stamp" ]]; then
  log "testenv: upstream binaries up to date in $cache_dir"
  echo "$cache_dir"
  exit 0
fi

k8s_version=$(testenv_k8s_version)
minor=${k8s_version#v1.}
minor=${minor%%.*}
pkg=k8s.io/component-base/version
# Without these the binaries call themselves v0.0.0-master, and clients that check the
# server version (NVIDIA's operator among them) refuse to work with it.
ldflags="-s -w -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"

tmp_dir="$cache_dir.tmp.$$"
trap 'rm -rf "$tmp_dir"' EXIT
mkdir -p "$tmp_dir"
cd "$here"
for cmd in $commands; do
  log "testenv: building $cmd $k8s_version (a cold build takes several minutes)"
  # -mod=readonly: go.sum is committed; a build must never rewrite it behind our back.
  GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" \
    -o "$tmp_dir/$cmd" "k8s.io/kubernetes/cmd/$cmd"
done
touch "$tmp_dir/.complete"
rm -rf "$cache_dir"
mv "$tmp_dir" "$cache_dir"
# Binaries of earlier pins are 150 MB each and nothing uses them any more.
find "$(testenv_cache_root)" -mindepth 1 -maxdepth 1 ! -path "$cache_dir" -exec rm -rf {} +
log "testenv: binaries ready in $cache_dir"
echo "$cache_dir"
