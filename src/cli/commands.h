// File: commands.h
// The commands of the `memberflow` binary, one file each under src/cli/commands/ (named after
// the command). Each returns the process's exit status. main.cc parses the command line; the
// commands get their ports from a Wiring (wiring.h), the composition root.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/config.h"
#include "cli/generator.h"
#include "cli/stage_runner.h"
#include "stages/reconcile.h"

namespace memberflow::cli {

int runCommand(const Config& cfg, const RunOptions& opts);
int apiCommand(const Config& cfg);
int generateCommand(const GeneratorOptions& opts, const std::optional<std::string>& out);
int produceCommand(const Config& cfg, const std::optional<std::string>& file);
int demoCommand(Config cfg, const GeneratorOptions& gen, bool serve);
struct VerifyOptions {
  std::string jwksFile;
  std::string issuer;
  std::string audience;
  bool noClaims = false;
  std::set<std::string> algorithms;  // empty: the default asymmetric set
  int64_t skewSeconds = 60;
};
// `memberflow auth verify`: one token from stdin; 0 valid, 1 not (the reason on stdout).
int authVerifyCommand(const VerifyOptions& o);
int tokenCommand(const Config& cfg, const std::vector<std::string>& scopes, int64_t ttlSeconds);
int dlqListCommand(const Config& cfg, const std::string& queue, size_t limit, bool withBody);
int dlqRedriveCommand(const Config& cfg, const std::string& queue);
// `memberflow park list`: parked members (JSON lines). `park release --member ID`: the member's
// dead change (from the changes DLQ, when there) and then its held changes are applied in order.
int parkListCommand(const Config& cfg, size_t limit);
int parkReleaseCommand(const Config& cfg, const std::string& member);
int queuePeekCommand(const Config& cfg, const std::string& queue, size_t limit, bool withBody);
int statusCommand(const Config& cfg);
// `memberflow health`: GET url (default: this configuration's API, /healthz); 0 when it answers
// 200 within timeoutMs, else 1.
int healthCommand(const Config& cfg, const std::string& url, long timeoutMs);

// Re-drives archived raw records through ingest (not archived again). Empty bounds: all.
struct ReplayOptions {
  std::optional<int32_t> partition;
  std::optional<int64_t> fromOffset, toOffset;  // inclusive
  std::optional<int64_t> sinceMs, untilMs;      // record timestamps, inclusive
};
int replayCommand(const Config& cfg, const ReplayOptions& opts);
// `memberflow reconcile`: 0 complete, 1 a discrepancy (each a JSON line), 2 the walk failed.
int reconcileCommand(const Config& cfg, const ReconcileOptions& opts);
// `memberflow erase`: one member's personal data out of every copy (stages/erase.h); 0 done,
// 1 refused (working queues hold messages; --force erases anyway), 2 a store failed.
int eraseCommand(const Config& cfg, const std::string& member, const std::string& reason,
                 bool force);
int configCheckCommand(const Config& cfg);
// Creates on AWS what the rules file describes: queue targets (SQS) and the buses, rules and
// targets of EventBridge.
int awsProvisionCommand(const Config& cfg);
// Prints the CloudFormation resources of the rules file (--rules, else bus.rules_file).
int awsTemplateCommand(const Config& cfg, const std::optional<std::string>& rulesFile);
int dbMigrateCommand(const Config& cfg);

}  // namespace memberflow::cli
