#pragma once

// Which host folders gpuop may take as its own. The Kata manager installs each runtime class's
// artifacts as <artifactsDir>/<class>/ and replaces that folder whole on an update, so an
// artifactsDir that names a folder of the system (`/`, `/etc`, `/opt`, `/usr/lib`) would put
// the host's own folders within reach of one runtime class name. The operator refuses such a
// ClusterPolicy and the agent refuses such a config, by this one rule.
//
//   if (std::optional<std::string> why = ArtifactsDirProblem(dir)) Fail("artifactsDir", *why);

#include <optional>
#include <string>
#include <string_view>

namespace gpuop::api {

// Why `dir` cannot be an artifactsDir (it is relative, holds "." or "..", or is or lies inside a
// system folder), or nullopt when it can. A folder below one the system owns only at its top
// (/opt/<vendor>, /var/lib/<app>, /usr/local/<x>) is fine.
std::optional<std::string> ArtifactsDirProblem(std::string_view dir);

// `dir` with repeated and trailing '/' taken out ("/opt//x/" -> "/opt/x").
std::string NormalizeHostFolder(std::string_view dir);

}  // namespace gpuop::api
