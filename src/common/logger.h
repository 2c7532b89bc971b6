#pragma once

// Structured logs, one line per event: a level, a message and key=value fields, as text
// (`level=info msg="bound to vfio-pci" bdf=0000:65:00.0`) or as JSON (--log-format=json). A
// Logger is passed to what logs; nothing logs through a global. Thread-safe.

#include <initializer_list>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>

#include "absl/synchronization/mutex.h"

namespace gpuop::common {

enum class LogFormat { kText, kJson };

class Logger {
 public:
  using Field = std::pair<std::string_view, std::string>;

  Logger(std::ostream& out, LogFormat format) : out_(out), format_(format) {}

  void Info(std::string_view message, std::initializer_list<Field> fields = {});
  void Warn(std::string_view message, std::initializer_list<Field> fields = {});
  void Error(std::string_view message, std::initializer_list<Field> fields = {});

 private:
  void Write(std::string_view level, std::string_view message, std::initializer_list<Field> fields);

  absl::Mutex mu_;
  std::ostream& out_ ABSL_GUARDED_BY(mu_);
  const LogFormat format_;
};

// Reads "text" or "json" into `format`; false for anything else.
bool ParseLogFormat(std::string_view text, LogFormat& format);

}  // namespace gpuop::common
