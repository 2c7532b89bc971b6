# Shared by scripts/lint and scripts/thread-safety, which run clang tools over src/ with the
# flags the build uses. Sourced, not run, from the repository root. Needs jq and
# build/compile_commands.json.

# Writes into DIR one clang response file per .cc under src/ in build/compile_commands.json,
# named after the source's path with '/' as '%' ("src%common%clock.cc.rsp"): its compile
# command less the compiler, `-o OUT` and `-c`, which leaves the flags and the source. CMake
# writes the command shell-quoted, the quoting clang reads response files with. GCC-only flags
# clang rejects are dropped (none today; add them to the pattern when CMakeLists.txt grows one).
write_response_files() {
  local dir=$1 file command
  while IFS= read -r file && IFS= read -r command; do
    file=${file#"$PWD"/}
    printf '%s\n' "$command" >"$dir/${file//\//%}.rsp"
  done < <(jq -r --arg src "$PWD/src/" '
    .[] | select(.file | startswith($src))
    | .file, (.command
      | sub("^\\S+\\s+"; "")
      | gsub("(^|\\s)-o\\s+\\S+"; " ")
      | gsub("(^|\\s)-c(?=\\s)"; " ")
      | gsub("(^|\\s)-fno-canonical-system-headers(?=\\s|$)"; " "))' build/compile_commands.json)
}

# The response file write_response_files wrote into DIR for SOURCE (a path from the root).
response_file() { echo "$1/${2//\//%}.rsp"; }
