# Shared by the testenv scripts: where the pinned upstream binaries live and how to log.
# Sourced, not run.

testenv_dir() { cd "$(dirname "${BASH_SOURCE[0]}")" && pwd; }

log() { echo "$*" >&2; }

# The machines this project runs on keep Go in /usr/local/go, which a non-login shell (CI) may
# not have on PATH.
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
  PATH=$PATH:/usr/local/go/bin
fi

# The version a go.mod requires of a module, e.g. v1.35.4: from "require MODULE vX" or from a
# line of a require block (not from a replace line, whose second field is "=>").
#   go_mod_version GO_MOD MODULE
go_mod_version() {
  awk -v m="$2" '$1 == "require" && $2 == m { print $3 }
                 $1 == m && $2 ~ /^v/ { print $2 }' "$1"
}

# The Kubernetes release this module pins, e.g. v1.35.4.
testenv_k8s_version() { go_mod_version "$(testenv_dir)/go.mod" k8s.io/kubernetes; }

# Cache folder of an image built from the Go module pinned under tools/NAME (tools/nfd,
# tools/container-toolkit), beside the Kubernetes binaries: keyed by that folder's go.mod, go.sum
# and build.sh, the OCI image writer and the Go toolchain, so a change to any of them rebuilds.
#   pinned_image_dir NAME VERSION
pinned_image_dir() {
  local tools key
  tools=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  key=$( (cat "$tools/$1/go.mod" "$tools/$1/go.sum" "$tools/$1/build.sh" \
    "$tools/../scripts/lib/oci-image.sh"; go version) | sha256sum | cut -c1-16)
  echo "$(dirname "$(testenv_cache_root)")/$1/$2-$key"
}

# Removes the cache folders of the other pins beside DIR (a pinned_image_dir): tens of MB each,
# and nothing uses them any more.
drop_other_pins() { find "$(dirname "$1")" -mindepth 1 -maxdepth 1 ! -path "$1" -exec rm -rf {} +; }

testenv_cache_root() { echo "${GPUOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gpuop}/testenv"; }

# Cache folder for the built binaries, outside the checkout so fresh clones share it. The key
# covers every input of the build: the module files, the build script (which lists the commands
# and flags) and the Go toolchain.
testenv_bin_dir() {
  local dir key
  dir=$(testenv_dir)
  key=$( (cat "$dir/go.mod" "$dir/go.sum" "$dir/build.sh"; go version) | sha256sum | cut -c1-16)
  echo "$(testenv_cache_root)/$(testenv_k8s_version)-$key"
}
