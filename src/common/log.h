// File: log.h
// Structured logs: one JSON object per line on stderr, with stage, message id, member id,
// event id and outcome. Callers pass identifiers only, never member content: there is no way
// to attach a member document to a log line, on purpose.
#pragma once

#include <string>
#include <string_view>

namespace memberflow::log {

enum class Level { kDebug, kInfo, kWarn, kError };

struct Fields {
  std::string_view stage{};
  std::string_view messageId{};
  std::string_view memberId{};
  std::string_view eventId{};
  std::string_view outcome{};
  std::string_view reason{};  // a stable reason code or a technical message without content
};

void setLevel(Level level);
bool enabled(Level level);
void write(Level level, std::string_view msg, const Fields& f = {});

inline void info(std::string_view msg, const Fields& f = {}) { write(Level::kInfo, msg, f); }
inline void warn(std::string_view msg, const Fields& f = {}) { write(Level::kWarn, msg, f); }
inline void error(std::string_view msg, const Fields& f = {}) { write(Level::kError, msg, f); }
inline void debug(std::string_view msg, const Fields& f = {}) {
  if (enabled(Level::kDebug)) write(Level::kDebug, msg, f);
}

}  // namespace memberflow::log
