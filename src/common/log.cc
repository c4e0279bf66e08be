#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/json.hpp>

#include "common/time.h"

namespace memberflow::log {
namespace {

std::atomic<int> gLevel{static_cast<int>(Level::kInfo)};

spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> l = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto lg = std::make_shared<spdlog::logger>("memberflow", sink);
    lg->set_pattern("%v");
    lg->set_level(spdlog::level::trace);
    lg->flush_on(spdlog::level::trace);
    return lg;
  }();
  return *l;
}

const char* levelName(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

}  // namespace

void setLevel(Level level) { gLevel = static_cast<int>(level); }
bool enabled(Level level) { return static_cast<int>(level) >= gLevel.load(); }

void write(Level level, std::string_view msg, const Fields& f) {
  if (!enabled(level)) return;
  boost::json::object o;
  o["ts"] = isoMillis(wallNowMs());
  o["level"] = levelName(level);
  o["msg"] = msg;
  auto put = [&](const char* k, std::string_view v) {
    if (!v.empty()) o[k] = v;
  };
  put("stage", f.stage);
  put("messageId", f.messageId);
  put("memberId", f.memberId);
  put("eventId", f.eventId);
  put("outcome", f.outcome);
  put("reason", f.reason);
  logger().info(boost::json::serialize(o));
}

}  // namespace memberflow::log
