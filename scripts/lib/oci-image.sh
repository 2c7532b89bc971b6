# Shared by the scripts that build images without a daemon (build-image, the e2e images):
# copying an ELF's shared libraries into a root file system, and writing a root file system as
# a one-layer OCI image layout in a tar. Sourced, not run. Needs jq, gzip, sha256sum, ldd.

# Copies into ROOTFS every shared library (and the dynamic loader) that the ELF files already
# in ROOTFS load, at the paths this machine has them, resolving symlinks to the real file.
copy_shared_libraries() {
  local rootfs=$1 file lib
  local -A seen=()
  while IFS= read -r file; do
    # `ldd` prints "name => /path (addr)" or "/lib64/ld-linux... (addr)"; static files print
    # "not a dynamic executable" on stderr.
    while IFS= read -r lib; do
      [[ -n "$lib" && -z "${seen[$lib]:-}" ]] || continue
      seen[$lib]=1
      mkdir -p "$rootfs$(dirname "$lib")"
      cp -L "$lib" "$rootfs$lib"
    done < <(ldd "$file" 2>/dev/null | awk '/=> \// { print $3 } /^\t\// { print $1 }')
  done < <(find "$rootfs" -type f \( -perm -u+x -o -name '*.so*' \) -print |
    while IFS= read -r f; do head -c4 "$f" | grep -q ELF && echo "$f"; done)
  # Debian's binaries find the loader at /lib64 and the libraries through the merged /usr.
  if [[ -d "$rootfs/lib/x86_64-linux-gnu" ]]; then
    mkdir -p "$rootfs/usr/lib"
    cp -a "$rootfs/lib/x86_64-linux-gnu" "$rootfs/usr/lib/"
    rm -rf "$rootfs/lib/x86_64-linux-gnu"
    ln -s ../usr/lib/x86_64-linux-gnu "$rootfs/lib/x86_64-linux-gnu"
  fi
}

# Writes ROOTFS as a one-layer image named REF with the image config CONFIG_JSON (the "config"
# object of the OCI image config: User, Entrypoint, Env, Labels) into the OCI layout tar OUT.
# The layer is reproducible: sorted names, owner root, every mtime set to CREATED.
# Prints the reference, the sizes, and OUT on the last line.
write_oci_archive() {
  local rootfs=$1 ref=$2 config_json=$3 created=$4 out=$5
  local layout layer_tar layer_gz diff_id layer_digest config_file config_digest manifest_file
  local manifest_digest uncompressed compressed
  layout=$(mktemp -d)
  mkdir -p "$layout/blobs/sha256"
  layer_tar=$layout/layer.tar
  tar -C "$rootfs" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="$created" --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -cf "$layer_tar" .
  diff_id=$(sha256sum "$layer_tar" | cut -d' ' -f1)
  uncompressed=$(stat -c %s "$layer_tar")
  gzip -n -9 -c "$layer_tar" >"$layout/layer.tar.gz"
  rm "$layer_tar"
  layer_digest=$(sha256sum "$layout/layer.tar.gz" | cut -d' ' -f1)
  compressed=$(stat -c %s "$layout/layer.tar.gz")
  mv "$layout/layer.tar.gz" "$layout/blobs/sha256/$layer_digest"

  config_file=$layout/config.json
  jq -cn --argjson config "$config_json" --arg diff "sha256:$diff_id" --arg created "$created" '{
    architecture: "amd64", os: "linux", created: $created, config: $config,
    rootfs: {type: "layers", diff_ids: [$diff]},
    history: [{created: $created, created_by: "scripts/lib/oci-image.sh"}]}' >"$config_file"
  config_digest=$(sha256sum "$config_file" | cut -d' ' -f1)
  local config_size
  config_size=$(stat -c %s "$config_file")
  mv "$config_file" "$layout/blobs/sha256/$config_digest"

  manifest_file=$layout/manifest.json
  jq -cn --arg cd "sha256:$config_digest" --argjson cs "$config_size" \
    --arg ld "sha256:$layer_digest" --argjson ls "$compressed" \
    --argjson labels "$(jq -c '.Labels // {}' <<<"$config_json")" '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
    layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $ld, size: $ls}],
    annotations: $labels}' >"$manifest_file"
  manifest_digest=$(sha256sum "$manifest_file" | cut -d' ' -f1)
  local manifest_size
  manifest_size=$(stat -c %s "$manifest_file")
  mv "$manifest_file" "$layout/blobs/sha256/$manifest_digest"

  # containerd's importer names the image from io.containerd.image.name; other tools (skopeo,
  # oras) read the OCI ref.name, the tag alone.
  jq -cn --arg md "sha256:$manifest_digest" --argjson ms "$manifest_size" --arg ref "$ref" '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md,
      size: $ms, platform: {architecture: "amd64", os: "linux"},
      annotations: {"io.containerd.image.name": $ref,
        "org.opencontainers.image.ref.name": ($ref | split(":") | last)}}]}' >"$layout/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"

  mkdir -p "$(dirname "$out")"
  tar -C "$layout" --sort=name --owner=0 --group=0 --numeric-owner --mtime="$created" \
    -cf "$out.partial" oci-layout index.json blobs
  mv "$out.partial" "$out"
  rm -rf "$layout"
  printf 'image %s\n  layer %s MB uncompressed, %s MB compressed (manifest sha256:%s)\n' \
    "$ref" "$((uncompressed / 1000000))" "$((compressed / 1000000))" "${manifest_digest:0:12}"
  echo "$out"
}
