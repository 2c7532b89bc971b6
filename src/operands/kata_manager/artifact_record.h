#pragma once

// The install record gpuop keeps in each runtime class's artifacts folder,
// <artifactsDir>/<class>/.gpuop-artifact.json: what was installed there (the reference, the
// manifest digest, the Kata configuration's path, each file with its digest and sizes). It is
// also what makes the folder gpuop's: only a folder with a well-formed record is ever replaced
// or removed (artifact_installer.h).
//
//   std::optional<ArtifactRecord> record = ReadArtifactRecord(dir);

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gpuop::operands {

inline constexpr char kArtifactRecordFile[] = ".gpuop-artifact.json";

// What <dir>/.gpuop-artifact.json says was installed there. It is also what makes the folder
// gpuop's: only a folder with a well-formed record is ever replaced.
struct ArtifactRecord {
  struct File {
    std::string name;  // A plain file name in the folder.
    std::string digest;
    int64_t size = 0;            // As pulled.
    int64_t installed_size = 0;  // On disk (the Kata configuration is rewritten on install).
  };
  std::string url;
  std::string digest;
  std::string config_path;  // Host path of the Kata configuration.
  std::vector<File> files;
};

// The record's JSON as InstallArtifact writes it; nullopt when any field is missing, of the
// wrong type, or names a file outside its folder (the record is on the host, where anyone with
// root could have edited it: a bad one reads as "not installed", never as an error or a crash).
std::optional<ArtifactRecord> ParseArtifactRecord(std::string_view text);
std::optional<ArtifactRecord> ReadArtifactRecord(const std::string& dir);

}  // namespace gpuop::operands
