# Shared by the testenv scripts: where the pinned upstream binaries live and how to log.
# Sourced, not run.

testenv_dir() { cd "$(dirname "${BASH_SOURCE[0]}")" && pwd; }

log() { echo "$*" >&2; }

# The machines this project runs on keep Go in /usr/local/go, which a non-login shell (CI) may
# not have on PATH.
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
  PATH=$PATH:/usr/local/go/bin
fi

# The Kubernetes release this module pins, e.g. v1.35.4.
testenv_k8s_version() {
  # Either "require k8s.io/kubernetes vX" or a line of a require block.
  awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }
       $1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2 }' "$(testenv_dir)/go.mod"
}

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
