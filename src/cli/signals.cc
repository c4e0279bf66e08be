#include "cli/signals.h"

#include <unistd.h>

#include <csignal>

namespace memberflow::cli {
namespace {

std::atomic<bool> gStop{false};
std::atomic<bool> gOpening{false};

extern "C" void onSignal(int sig) {
  if (gOpening) ::_exit(128 + sig);  // async-signal-safe; nothing to finish or commit yet
  gStop = true;
}

}  // namespace

void installSignals() {
  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);
  std::signal(SIGPIPE, SIG_IGN);
}

const std::atomic<bool>& stopSignal() { return gStop; }
void resetStopSignal() { gStop = false; }

OpeningPhase::OpeningPhase() { gOpening = !gStop; }
OpeningPhase::~OpeningPhase() { end(); }
void OpeningPhase::end() { gOpening = false; }

}  // namespace memberflow::cli
