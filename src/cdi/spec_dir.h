#pragma once

// Puts CDI specs into a spec directory (/var/run/cdi) the way its readers need: containerd and
// the Kata shim may reload the directory at any moment, so a spec is replaced whole by a rename,
// never rewritten in place, and a spec that would not load is not written at all.
//
//   absl::StatusOr<bool> changed = WriteSpecIfChanged("/var/run/cdi", spec);

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "cdi/cdi_spec.h"

namespace gpuop::cdi {

// Writes <dir>/<SpecFileName(kind)> unless it already holds exactly this spec; true when it
// wrote. An invalid spec is an error and leaves the file as it was. Creates `dir`.
absl::StatusOr<bool> WriteSpecIfChanged(const std::string& dir, const Spec& spec);

// Removes the kind's spec; OK when there is none.
absl::Status RemoveSpec(const std::string& dir, const std::string& kind);

// The kinds of the specs in `dir` that gpuop wrote (they start with kSpecHeader), as their
// `kind:` lines say; others' specs are not listed. Empty when `dir` does not exist.
absl::StatusOr<std::vector<std::string>> KindsWrittenIn(const std::string& dir);

}  // namespace gpuop::cdi
