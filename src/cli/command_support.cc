#include "cli/command_support.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <unordered_set>

#include "common/json.h"
#include "common/log.h"
#include "common/time.h"

namespace memberflow::cli {

int fail(const Status& s) {
  std::cerr << "memberflow: " << s.toString() << "\n";
  return s.code() == Code::kInvalidArgument ? 2 : 1;
}

void applyLogLevel(const Config& cfg) { log::setLevel(cfg.logLevel); }

void printMessages(const std::string& queue, const std::vector<ReceivedMessage>& msgs,
                   bool withBody) {
  std::unordered_set<std::string> listed;
  for (const auto& m : msgs) {
    if (!m.dedupId.empty() && !listed.insert(m.dedupId).second) continue;
    json::object attrs;
    for (const auto& [k, v] : m.attributes) attrs[k] = v;
    json::object o{{"queue", queue},
                   {"id", m.messageId},
                   {"groupId", m.groupId},
                   {"dedupId", m.dedupId},
                   {"sentAt", isoMillis(m.sentAtMs)},
                   {"attributes", std::move(attrs)}};
    if (withBody) o["body"] = m.body;
    std::cout << json::serialize(o) << "\n";
  }
}

Progress::Progress(const char* what) : what_(what), tty_(isatty(STDERR_FILENO) != 0) {}

void Progress::update(int64_t n, bool final) {
  if (!tty_) return;
  auto now = std::chrono::steady_clock::now();
  if (!final && now - last_ < std::chrono::milliseconds(250)) return;
  last_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  std::fprintf(stderr, "\r%s %lld records (%.0f/s)%s", what_, static_cast<long long>(n),
               secs > 0 ? static_cast<double>(n) / secs : 0.0, final ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace memberflow::cli
