// File: console_api.h
// The operator console (issue 17, docs/console.md): its static assets at /console and its JSON
// endpoints under /console/api/. The endpoints need a token with the scope member:operate;
// they act through ops::OperatorPorts — the same functions as the CLI's status, dlq and park
// commands — one request at a time (the ports are not thread-safe); every action that changes
// something, and every reveal of personal data, is written to the audit log first.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "api/auth.h"
#include "api/handlers.h"
#include "console/flow_sampler.h"
#include "ops/operator_ports.h"
#include "ports/audit_log.h"

namespace memberflow::console {

inline constexpr const char* kOperateScope = "member:operate";

struct ConsoleOptions {
  std::string mode = "embedded";    // or "distributed": shown by the session endpoint
  int64_t sampleMs = 5000;          // the flow map's sampling period
  double defaultRedriveRate = 100;  // entries per second when a redrive names no rate
};

class ConsoleApi {
 public:
  // `redrivePorts`: ports of their own for real redrives, which may run for minutes (paced)
  // while `ports` serve every other request.
  ConsoleApi(ops::OperatorPorts& ports, ops::OperatorPorts& redrivePorts, AuditLog& audit,
             ConsoleOptions opts);
  // Starts the flow map's sampling.
  void start() { sampler_.start(); }

  // GET /console and /console/assets/<file>: no token, no data.
  static api::ApiResponse asset(const std::string& path);
  // /console/api/...: `claims` verified by the API (never null).
  api::ApiResponse handle(const api::ApiRequest& req, const std::string& path,
                          const std::map<std::string, std::string>& query,
                          const api::Claims& claims);
  FlowSampler& sampler() { return sampler_; }

 private:
  api::ApiResponse route(const api::ApiRequest& req, const std::string& path,
                         const std::map<std::string, std::string>& query,
                         const api::Claims& claims);
  api::ApiResponse dlqRoute(const api::ApiRequest& req, const std::string& rest,
                            const std::map<std::string, std::string>& query,
                            const api::Claims& claims);
  api::ApiResponse redrive(const std::string& dlq, const api::ApiRequest& req,
                           const api::Claims& claims);
  api::ApiResponse lineage(const std::map<std::string, std::string>& query);
  api::ApiResponse archiveLine(const std::map<std::string, std::string>& query,
                               const api::Claims& claims);
  api::ApiResponse rules();
  api::ApiResponse testRules(const api::ApiRequest& req, const api::Claims& claims);
  // Writes the audit entry; the action goes ahead only when it is written.
  Status audit(const api::Claims& claims, const std::string& action, const std::string& target,
               int64_t count, const std::string& detail);

  ops::OperatorPorts& ports_;
  ops::OperatorPorts& redrivePorts_;
  std::mutex redriveLock_;  // one real redrive at a time
  AuditLog& audit_;
  ConsoleOptions opts_;
  std::mutex portsLock_;  // one request at a time through the ports (and the sampler)
  FlowSampler sampler_;
  // Rule hits counted from the delivery log, incrementally.
  int64_t hitsSeq_ = 0;
  std::map<std::string, int64_t> hits_;
};

}  // namespace memberflow::console
