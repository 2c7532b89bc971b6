// Any bytes as a Kata artifacts folder's install record (.gpuop-artifact.json), which lies on
// the host where anyone with root could edit it, and which decides whether gpuop may replace
// that folder. The parser answers with a record or nothing, never a crash; a record it accepts
// names only plain files inside the folder, an absolute configuration path, and sizes >= 0.

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/files.h"
#include "operands/kata_manager/artifact_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::optional<gpuop::operands::ArtifactRecord> record =
      gpuop::operands::ParseArtifactRecord(text);
  if (!record.has_value()) return 0;
  if (record->config_path.empty() || record->config_path.front() != '/') __builtin_trap();
  for (const gpuop::operands::ArtifactRecord::File& file : record->files) {
    if (!gpuop::common::IsPlainFileName(file.name) || file.size < 0 || file.installed_size < 0) {
      __builtin_trap();
    }
  }
  return 0;
}
