#include "kube/micro_time.h"

#include <time.h>

#include <cstdio>

namespace gpuop::kube {

std::string FormatMicroTime(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count() %
      1000000;
  if (micros < 0) micros += 1000000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[80];  // Room for any int the compiler cannot rule out, not only real dates.
  (void)std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
                      utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                      utc.tm_sec, static_cast<long>(micros));
  return text;
}

}  // namespace gpuop::kube
