// memberflow: moves member changes from CoreSystem to everyone who needs them.
// See README.md and ../shared/DESIGN.md. This file only parses the command line.
#include <CLI/CLI.hpp>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/lambda_runner.h"
#include "common/text.h"
#include "common/time.h"

using namespace memberflow;

int main(int argc, char** argv) {
  CLI::App app{"memberflow: Debezium member changes -> Member API -> everyone who needs them"};
  app.require_subcommand(1);
  std::optional<std::string> configFile;
  std::optional<std::string> dataDir;
  app.add_option("-c,--config", configFile, "TOML configuration file")->check(CLI::ExistingFile);
  app.add_option("--data-dir", dataDir, "data directory (overrides storage.data_dir)");

  auto* run = app.add_subcommand("run", "run the pipeline stages (default: all)");
  std::string stages = "ingest,sync,api,relay,route,lake";
  bool untilIdle = false;
  run->add_option("--stages", stages,
                  "comma-separated stages: ingest, sync, api, relay, route, lake");
  run->add_flag("--until-idle", untilIdle, "exit once the source is consumed and queues are empty");

  auto* api = app.add_subcommand("api", "serve the Member API");

  GeneratorOptions gen;
  std::optional<std::string> genOut;
  auto addGen = [&](CLI::App* c) {
    c->add_option("--seed", gen.seed, "random seed (same seed, same output)");
    c->add_option("--count", gen.count, "records to generate")->check(CLI::PositiveNumber);
    c->add_option("--members", gen.members, "distinct members")->check(CLI::PositiveNumber);
    c->add_option("--duplicates", gen.duplicateRatio, "ratio of exact duplicates")
        ->check(CLI::Range(0.0, 0.5));
    c->add_option("--stale", gen.staleRatio, "ratio of stale replays")->check(CLI::Range(0.0, 0.5));
    c->add_option("--deletes", gen.deleteRatio, "ratio of deletes")->check(CLI::Range(0.0, 0.5));
    c->add_option("--tombstones", gen.tombstoneRatio, "share of deletes followed by a tombstone")
        ->check(CLI::Range(0.0, 1.0));
    c->add_option("--invalid", gen.invalidRatio, "ratio of invalid records")
        ->check(CLI::Range(0.0, 0.5));
    c->add_option("--noop", gen.noopRatio, "ratio of updates that change nothing")
        ->check(CLI::Range(0.0, 0.5));
  };
  auto* generate = app.add_subcommand("generate", "write synthetic raw messages as JSONL");
  addGen(generate);
  generate->add_option("-o,--out", genOut, "output file (default: stdout)");

  auto* produce = app.add_subcommand("produce", "append JSONL raw messages to the source");
  std::optional<std::string> produceFile;
  produce->add_option("file", produceFile, "JSONL file (default or '-': stdin)");

  auto* demo = app.add_subcommand("demo", "generate data, run the pipeline, show the result");
  gen.count = 2000;
  gen.members = 200;
  addGen(demo);
  bool serve = false;
  demo->add_flag("--serve", serve, "keep serving the API afterwards");

  auto* token = app.add_subcommand("token", "print a short-lived bearer token for the API");
  std::vector<std::string> scopes;
  int64_t ttl = 900;
  token->add_option("--scope", scopes, "scope(s): member:read, member:write")->required();
  token->add_option("--ttl", ttl, "lifetime in seconds")->check(CLI::Range(1, 86400));

  auto* dlq = app.add_subcommand("dlq", "inspect and redrive dead-letter queues");
  dlq->require_subcommand(1);
  std::string dlqName = "ingest";
  size_t limit = 100;
  bool withBody = false;
  auto* dlqList = dlq->add_subcommand("list", "list dead letters with their reasons");
  dlqList->add_option("--queue", dlqName, "ingest, changes, route, lake or target-<name>");
  dlqList->add_option("--limit", limit, "at most this many");
  dlqList->add_flag("--with-body", withBody, "include message bodies (they hold member data)");
  auto* dlqRedrive = dlq->add_subcommand("redrive", "send dead letters back through the pipeline");
  dlqRedrive->add_option("--queue", dlqName, "ingest, changes, route, lake or target-<name>");

  auto* park = app.add_subcommand("park", "members parked by a dead-lettered change");
  park->require_subcommand(1);
  std::string parkMember;
  auto* parkList = park->add_subcommand("list", "parked members with their held changes");
  parkList->add_option("--limit", limit, "at most this many");
  auto* parkRelease = park->add_subcommand(
      "release", "apply a parked member's dead change, then its held changes, in order");
  parkRelease->add_option("--member", parkMember, "the member id")->required();

  auto* queueCmd = app.add_subcommand("queue", "inspect queues");
  queueCmd->require_subcommand(1);
  std::string queueName;
  auto* queuePeek = queueCmd->add_subcommand(
      "peek", "list a queue's messages without consuming them (e.g. a bus target's queue)");
  queuePeek->add_option("--queue", queueName, "the queue's name")->required();
  queuePeek->add_option("--limit", limit, "at most this many");
  queuePeek->add_flag("--with-body", withBody, "include message bodies (they hold member data)");

  auto* replay =
      app.add_subcommand("replay", "re-drive archived raw records through ingest (deduplicated)");
  cli::ReplayOptions replayOpts;
  std::optional<std::string> since, until;
  replay->add_option("--partition", replayOpts.partition, "only this partition");
  replay->add_option("--from-offset", replayOpts.fromOffset, "first offset (inclusive)");
  replay->add_option("--to-offset", replayOpts.toOffset, "last offset (inclusive)");
  replay->add_option("--since", since, "records at or after this time (ISO 8601)");
  replay->add_option("--until", until, "records at or before this time (ISO 8601)");

  auto* reconcile = app.add_subcommand(
      "reconcile", "prove every source record is accounted for; name each gap (exit 0, 1 or 2)");
  ReconcileOptions reconcileOpts;
  std::optional<std::string> reconcileFrom, reconcileTo;
  reconcile->add_option("--partition", reconcileOpts.partition, "only this partition");
  reconcile->add_option("--from-offset", reconcileOpts.fromOffset, "first offset (inclusive)");
  reconcile->add_option("--to-offset", reconcileOpts.toOffset, "last offset (inclusive)");
  reconcile->add_option("--from", reconcileFrom, "records at or after this time (ISO 8601)");
  reconcile->add_option("--to", reconcileTo, "records at or before this time (ISO 8601)");

  auto* erase = app.add_subcommand(
      "erase", "remove one member's personal data from every copy memberflow holds");
  std::string eraseMember, eraseReason;
  bool eraseForce = false;
  erase->add_option("--member", eraseMember, "the member id")->required();
  erase->add_option("--reason", eraseReason, "why (kept in the audit record)");
  erase->add_flag("--force", eraseForce,
                  "erase although working queues hold messages (they are left as they are)");

  auto* status = app.add_subcommand("status", "print source lag and queue depths as JSON");

  auto* health = app.add_subcommand(
      "health", "probe the API's /healthz: exit 0 when it answers 200 (a container health check)");
  std::string healthUrl;
  long healthTimeoutMs = 3000;
  health->add_option("--url", healthUrl, "the URL to probe (default: <api>/healthz)");
  health->add_option("--timeout-ms", healthTimeoutMs, "give up after this long")
      ->check(CLI::Range(1L, 60000L));

  auto* awsCmd = app.add_subcommand("aws", "AWS tools");
  awsCmd->require_subcommand(1);
  auto* awsProvision = awsCmd->add_subcommand(
      "provision",
      "create the EventBridge buses, rules and targets (and SQS queue targets) of bus.rules_file");
  auto* awsTemplate = awsCmd->add_subcommand(
      "template", "print the CloudFormation resources of the rules file (deploy/template.yaml)");
  std::optional<std::string> templateRules;
  awsTemplate->add_option("--rules", templateRules, "rules file (default: bus.rules_file)")
      ->check(CLI::ExistingFile);

  auto* dbCmd = app.add_subcommand("db", "database tools (adapters.member_store = postgres)");
  dbCmd->require_subcommand(1);
  auto* dbMigrate =
      dbCmd->add_subcommand("migrate", "apply the pending PostgreSQL migrations (safe to repeat)");

  auto* authCmd = app.add_subcommand("auth", "bearer-token tools");
  authCmd->require_subcommand(1);
  auto* authVerify = authCmd->add_subcommand("verify",
                                             "verify one compact JWS read from stdin against a key "
                                             "set: exit 0 if valid, 1 if not (with the reason)");
  cli::VerifyOptions verifyOpts;
  std::string verifyAlgs;
  authVerify->add_option("--jwks", verifyOpts.jwksFile, "JWKS (or single JWK) file")
      ->required()
      ->check(CLI::ExistingFile);
  authVerify->add_option("--issuer", verifyOpts.issuer, "required iss");
  authVerify->add_option("--audience", verifyOpts.audience, "required aud");
  authVerify->add_flag("--no-claims", verifyOpts.noClaims,
                       "check header and signature only (not exp, nbf, iat, iss, aud)");
  authVerify->add_option(
      "--alg", verifyAlgs,
      "accepted algorithms, comma-separated (default: RS*, PS*, ES*, EdDSA; HS* only when listed)");
  authVerify->add_option("--skew", verifyOpts.skewSeconds, "clock skew allowed, seconds (0..300)");

  auto* lambda = app.add_subcommand(
      "lambda", "run as an AWS Lambda custom runtime (provided.al2023) for one stage");
  std::string lambdaStage;
  lambda->add_option("stage", lambdaStage,
                     "ingest, sync, route, lake, relay or api (default: $_HANDLER, the function's "
                     "Handler)");

  auto* config = app.add_subcommand("config", "configuration tools");
  config->require_subcommand(1);
  auto* configCheck = config->add_subcommand("check", "load and check the configuration");

  CLI11_PARSE(app, argc, argv);

  if (*authVerify) {  // needs no configuration
    for (const auto& a : splitList(verifyAlgs)) verifyOpts.algorithms.insert(a);
    return cli::authVerifyCommand(verifyOpts);
  }
  if (dataDir) setenv("MEMBERFLOW_STORAGE_DATA_DIR", dataDir->c_str(), 1);
  // A function's configuration file comes with its package or layer, named by the environment.
  if (!configFile) {
    if (const char* f = std::getenv("MEMBERFLOW_CONFIG"); f && *f) configFile = f;
  }
  auto cfg = loadConfig(configFile);
  // A Lambda runtime reports a configuration that does not load as an init error itself.
  if (*lambda) return cli::lambdaCommand(cfg, lambdaStage);
  if (!cfg.isOk()) {
    std::cerr << "memberflow: " << cfg.status().message() << "\n";
    return 2;
  }
  if (*run) {
    cli::RunOptions o;
    o.stages.clear();
    std::stringstream ss(stages);
    for (std::string s; std::getline(ss, s, ',');) {
      if (s != "ingest" && s != "sync" && s != "api" && s != "relay" && s != "route" &&
          s != "lake") {
        std::cerr << "memberflow: unknown stage " << s << "\n";
        return 2;
      }
      o.stages.insert(s);
    }
    o.untilIdle = untilIdle;
    return cli::runCommand(*cfg, o);
  }
  if (*api) return cli::apiCommand(*cfg);
  if (*generate) return cli::generateCommand(gen, genOut);
  if (*produce) return cli::produceCommand(*cfg, produceFile);
  if (*demo) return cli::demoCommand(*cfg, gen, serve);
  if (*token) return cli::tokenCommand(*cfg, scopes, ttl);
  if (*dlqList) return cli::dlqListCommand(*cfg, dlqName, limit, withBody);
  if (*queuePeek) return cli::queuePeekCommand(*cfg, queueName, limit, withBody);
  if (*dlqRedrive) return cli::dlqRedriveCommand(*cfg, dlqName);
  if (*parkList) return cli::parkListCommand(*cfg, limit);
  if (*parkRelease) return cli::parkReleaseCommand(*cfg, parkMember);
  if (*erase) return cli::eraseCommand(*cfg, eraseMember, eraseReason, eraseForce);
  if (*status) return cli::statusCommand(*cfg);
  if (*health) return cli::healthCommand(*cfg, healthUrl, healthTimeoutMs);
  if (*dbMigrate) return cli::dbMigrateCommand(*cfg);
  if (*replay || *reconcile) {
    for (auto [text, slot] :
         {std::pair{&since, &replayOpts.sinceMs}, std::pair{&until, &replayOpts.untilMs},
          std::pair{&reconcileFrom, &reconcileOpts.fromMs},
          std::pair{&reconcileTo, &reconcileOpts.toMs}}) {
      if (!*text) continue;
      auto ms = epochMsFromIso(**text);
      if (!ms) {
        auto d = daysFromIsoDate(**text);
        if (!d) {
          std::cerr
              << "memberflow: --since/--until/--from/--to take an ISO 8601 date or date-time\n";
          return 2;
        }
        ms = *d * 86400000;
      }
      *slot = *ms;
    }
    if (*reconcile) return cli::reconcileCommand(*cfg, reconcileOpts);
    return cli::replayCommand(*cfg, replayOpts);
  }
  if (*configCheck) return cli::configCheckCommand(*cfg);
  if (*awsProvision) return cli::awsProvisionCommand(*cfg);
  if (*awsTemplate) return cli::awsTemplateCommand(*cfg, templateRules);
  return 2;
}
