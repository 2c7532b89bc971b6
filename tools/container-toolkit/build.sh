#!/usr/bin/env bash
# Builds the upstream NVIDIA Container Toolkit, pinned in go.mod (the version NVIDIA's chart
# pins), into a one-layer OCI image tar for the demo and e2e cluster's toolkit DaemonSet, laid
# out as NVIDIA's toolkit image is: the installer (nvidia-ctk-installer, with the nvidia-toolkit
# link the entrypoint runs) and, under /artifacts/deb, what it installs on the node.
#
# What is upstream's and what is not:
# - Built here from the module: nvidia-ctk-installer, nvidia-ctk, nvidia-cdi-hook,
#   nvidia-container-runtime (and .cdi, .legacy), nvidia-container-runtime-hook.
# - Stand-ins: nvidia-container-cli and libnvidia-container(-go).so.1 are C (libnvidia-container),
#   not in the Go module and not packaged by Debian, so nothing here can build them. The
#   installer only copies them to the node; on a node without the nvidia module loaded in the
#   kernel the runtime wrappers it installs run runc directly and never call them. The stand-in
#   CLI says what it is and fails if anything does call it; the libraries are empty shared
#   objects under the real sonames.
# - busybox (Debian's busybox-static) is the image's shell, for the DaemonSet's entrypoint.
#
# The image is named localhost/gpuop-e2e/ctk-installer:<version>, not NVIDIA's name: it is built
# here, with stand-ins, and tests/e2e/values-sim-node.yaml points the toolkit at it. The tar is
# cached beside the Kubernetes binaries (pinned_image_dir): a second run does nothing. Prints
# the image tar's path on its last line of stdout.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/testenv/lib.sh
source "$here/../testenv/lib.sh"
# shellcheck source=scripts/lib/oci-image.sh
source "$here/../../scripts/lib/oci-image.sh"

module=github.com/NVIDIA/nvidia-container-toolkit
version=$(go_mod_version "$here/go.mod" "$module")
[[ -n "$version" ]] || { log "container-toolkit: no $module version in go.mod"; exit 1; }
dir=$(pinned_image_dir container-toolkit "$version")
image_tar=$dir/ctk-installer-image.tar
if [[ -f "$image_tar" ]]; then
  echo "$image_tar"
  exit 0
fi

log "container-toolkit: building $version (a cold build takes a few minutes)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
artifacts=$rootfs/artifacts/deb
mkdir -p "$rootfs/usr/bin" "$rootfs/bin" "$artifacts/usr/bin" "$artifacts/usr/lib/x86_64-linux-gnu"
cd "$here"
# cgo: NVML, CUDA and dxcore are loaded with dlopen, as in NVIDIA's builds.
GOFLAGS=-mod=readonly CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o "$work/bin/" \
  "$module/cmd/nvidia-ctk-installer" "$module/cmd/nvidia-ctk" "$module/cmd/nvidia-cdi-hook" \
  "$module/cmd/nvidia-container-runtime" "$module/cmd/nvidia-container-runtime.cdi" \
  "$module/cmd/nvidia-container-runtime.legacy" "$module/cmd/nvidia-container-runtime-hook" \
  2> >(grep -v -e 'deprecated' -e 'cgo-gcc-prolog' -e 'declared here' -e '^ *[0-9]* |' -e '^ *|' >&2)
mv "$work/bin/nvidia-ctk-installer" "$rootfs/usr/bin/"
ln -s nvidia-ctk-installer "$rootfs/usr/bin/nvidia-toolkit"
mv "$work/bin/"* "$artifacts/usr/bin/"

cat >"$artifacts/usr/bin/nvidia-container-cli" <<'EOF'
#!/bin/sh
echo "nvidia-container-cli: a stand-in from gpuop's e2e toolkit image: the real one is C (libnvidia-container) and is not built there" >&2
exit 1
EOF
chmod 0755 "$artifacts/usr/bin/nvidia-container-cli"
echo 'int gpuop_stand_in_for_libnvidia_container;' >"$work/stand-in.c"
for soname in libnvidia-container.so.1 libnvidia-container-go.so.1; do
  file=${soname%.1}.${version#v}
  gcc -shared -fPIC -Wl,-soname,"$soname" -o "$artifacts/usr/lib/x86_64-linux-gnu/$file" "$work/stand-in.c"
  ln -s "$file" "$artifacts/usr/lib/x86_64-linux-gnu/$soname"
done

cp /bin/busybox "$rootfs/bin/busybox"
for applet in sh sleep cat chroot grep ls; do ln -s busybox "$rootfs/bin/$applet"; done
copy_shared_libraries "$rootfs"
mkdir -p "$dir"
write_oci_archive "$rootfs" "localhost/gpuop-e2e/ctk-installer:$version" \
  '{"Env":["PATH=/usr/bin:/bin"],"User":"0:0"}' 1970-01-01T00:00:00Z "$image_tar.tmp" >/dev/null
mv "$image_tar.tmp" "$image_tar"
drop_other_pins "$dir"
log "container-toolkit: image ready in $image_tar"
echo "$image_tar"
