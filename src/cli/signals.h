// File: signals.h
// SIGTERM and SIGINT for the commands that run stages: the first asks the stages to stop (the
// supervisor reads stopSignal()). While a process is still opening its adapters nothing is in
// flight, and an open can block in a dependency that does not answer (an S3 bucket check, say):
// a signal during an OpeningPhase ends the process at once.
#pragma once

#include <atomic>

namespace memberflow::cli {

// Installs the handlers (and ignores SIGPIPE). Idempotent.
void installSignals();
// Set once SIGTERM or SIGINT arrived.
const std::atomic<bool>& stopSignal();
// Forgets an earlier signal (`demo --serve` runs stages twice).
void resetStopSignal();

// A scope in which a signal exits the process at once (status 128 + signal number).
class OpeningPhase {
 public:
  OpeningPhase();
  ~OpeningPhase();
  OpeningPhase(const OpeningPhase&) = delete;
  OpeningPhase& operator=(const OpeningPhase&) = delete;
  // Leaves the phase early (the destructor does it otherwise).
  void end();
};

}  // namespace memberflow::cli
