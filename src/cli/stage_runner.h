// File: stage_runner.h
// `memberflow run` (and `api`, `demo`): builds the chosen stages on the ports of a Wiring and
// runs them under a StageSupervisor until a signal, a failed stage, or --until-idle finds the
// work done.
//
// Everything the stages need is opened before any of them starts, so a start failure (an
// unreachable database, an object store that cannot be written, a missing setting) exits with
// the error and leaves nothing running. Shutdown is bounded by run.shutdown_timeout_ms.
#pragma once

#include <set>
#include <string>

#include "cli/wiring.h"

namespace memberflow::cli {

struct RunOptions {
  std::set<std::string> stages{"ingest", "sync", "api", "relay", "route", "lake"};
  bool untilIdle = false;  // exit once the source is consumed and the queues are empty
};

// Returns the process's exit status: 0 after a signal or when idle, 1 when a stage failed, 2
// for a configuration error (fail()). Exits the process itself (status 1) when stages are
// still blocked at the shutdown deadline. quietIdle: no "shutting down" line when idle.
int runStages(Wiring& w, const RunOptions& opts, bool quietIdle = false);

}  // namespace memberflow::cli
