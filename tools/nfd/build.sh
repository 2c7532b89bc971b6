#!/usr/bin/env bash
# Builds upstream Node Feature Discovery, pinned in go.mod, the way its own image is built
# (static binaries, host paths under /host-), and packs nfd-master, nfd-worker and nfd-gc into a
# one-layer OCI image tar for the demo and e2e cluster. The tar is cached beside the Kubernetes
# binaries (pinned_image_dir): a second run does nothing.
#
# The image is named localhost/gpuop-e2e/node-feature-discovery:<version>, not NFD's
# registry.k8s.io name: it is built here, and tests/e2e/values-sim-node.yaml points NFD's chart
# at it. It runs as 65534:65534, as NFD's image does (the chart asks for runAsNonRoot).
# Prints the image tar's path on its last line of stdout.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/testenv/lib.sh
source "$here/../testenv/lib.sh"
# shellcheck source=scripts/lib/oci-image.sh
source "$here/../../scripts/lib/oci-image.sh"

nfd_module=sigs.k8s.io/node-feature-discovery
version=$(go_mod_version "$here/go.mod" "$nfd_module")
[[ -n "$version" ]] || { log "nfd: no $nfd_module version in go.mod"; exit 1; }
dir=$(pinned_image_dir nfd "$version")
image_tar=$dir/nfd-image.tar
if [[ -f "$image_tar" ]]; then
  echo "$image_tar"
  exit 0
fi

log "nfd: building $version (a cold build takes a few minutes)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/usr/bin" "$work/rootfs/etc/kubernetes/node-feature-discovery"
cd "$here"
# NFD's Makefile sets the same two variables: its version, and the prefix under which the
# worker finds the host's /sys, /etc, /usr... (the chart mounts the host's /sys at /host-sys).
ldflags="-s -w -X $nfd_module/pkg/version.version=$version"
ldflags+=" -X $nfd_module/pkg/utils/hostpath.pathPrefix=/host-"
# One go build for the three: a folder as -o takes each command under its own name.
GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" \
  -o "$work/rootfs/usr/bin/" "$nfd_module/cmd/nfd-master" "$nfd_module/cmd/nfd-worker" \
  "$nfd_module/cmd/nfd-gc"
mkdir -p "$dir"
write_oci_archive "$work/rootfs" "localhost/gpuop-e2e/node-feature-discovery:$version" \
  '{"Env":["PATH=/usr/bin"],"User":"65534:65534"}' 1970-01-01T00:00:00Z "$image_tar.tmp" >/dev/null
mv "$image_tar.tmp" "$image_tar"
drop_other_pins "$dir"
log "nfd: image ready in $image_tar"
echo "$image_tar"
