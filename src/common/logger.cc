#include "common/logger.h"

#include <chrono>
#include <ostream>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include <nlohmann/json.hpp>

namespace gpuop::common {
namespace {

// Quotes a text value when it holds spaces, quotes or '=' (logfmt's rule), so each line splits
// back into its fields.
std::string TextValue(std::string_view value) {
  if (!value.empty() && value.find_first_of(" \"=\t\n") == std::string_view::npos) {
    return std::string(value);
  }
  std::string quoted = "\"";
  for (const char c : value) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    if (c == '\n') {
      quoted += "\\n";
      continue;
    }
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

}  // namespace

void Logger::Info(std::string_view message, std::initializer_list<Field> fields) {
  Write("info", message, fields);
}
void Logger::Warn(std::string_view message, std::initializer_list<Field> fields) {
  Write("warning", message, fields);
}
void Logger::Error(std::string_view message, std::initializer_list<Field> fields) {
  Write("error", message, fields);
}

void Logger::Write(std::string_view level, std::string_view message,
                   std::initializer_list<Field> fields) {
  // wall-clock: log lines carry the time of day.
  const std::string time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string line;
  if (format_ == LogFormat::kJson) {
    nlohmann::ordered_json object = {
        {"time", time}, {"level", std::string(level)}, {"msg", std::string(message)}};
    for (const auto& [key, value] : fields) object[std::string(key)] = std::string(value);
    line = object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = absl::StrFormat("time=%s level=%s msg=%s", time, std::string(level), TextValue(message));
    for (const auto& [key, value] : fields) {
      absl::StrAppendFormat(&line, " %s=%s", std::string(key), TextValue(value));
    }
  }
  absl::MutexLock lock(&mu_);
  out_ << line << '\n';
  out_.flush();
}

bool ParseLogFormat(std::string_view text, LogFormat& format) {
  if (text == "text") {
    format = LogFormat::kText;
  } else if (text == "json") {
    format = LogFormat::kJson;
  } else {
    return false;
  }
  return true;
}

}  // namespace gpuop::common
