// File: lambda_runner.h
// `memberflow lambda <stage>`: the binary as an AWS Lambda custom runtime (provided.al2023,
// DESIGN.md §9). It opens what the stage needs once (the init phase), then loops on the
// Runtime API: the next invocation, the stage's own process() on the event's batch, the
// response. The same stage code as `memberflow run`:
//   ingest              a Kafka (MSK or self-managed) event source mapping's records; the
//                       mapping commits their offsets after a successful invocation
//   sync, route, lake   an SQS event source mapping's messages; the answer lists the
//                       batchItemFailures (ReportBatchItemFailures; on FIFO the first failure
//                       and everything after it)
//   relay               any event (a schedule): drains the outbox until near the deadline
//   api                 API Gateway HTTP API events (payload format 2.0), the Member API's
//                       handlers, auth and store
// No batch is started once less than lambda.deadline_margin_ms is left before the invocation's
// deadline: what is left is reported failed (SQS) or the invocation fails (Kafka: the mapping
// retries the batch, whose done records are duplicates by then). Metrics go to stdout in
// CloudWatch Embedded Metric Format after each invocation. Nothing logged holds an event's
// content.
// The lake function's journal is local to its instance (storage.data_dir, /tmp on Lambda), and
// each instance writes under a writer name of its own: objects never collide, but an instance
// lost between writing an object and the mapping's delete leaves events that another instance
// writes again (at least once, each event's id tells the copies apart). Exactly once in the
// lake needs the long-running lake stage (one ECS task) until the journal has a shared store.
#pragma once

#include <string>

#include "cli/config.h"

namespace memberflow::cli {

// The stage is `stage`, else $_HANDLER (the function's Handler setting). A configuration that
// does not load is reported as an init error (Runtime.ConfigError), as is a stage that cannot
// open its dependencies (Runtime.InitError) or an unknown stage (Runtime.HandlerNotFound).
// Returns the exit status: 2 without AWS_LAMBDA_RUNTIME_API, 1 after an init error or when the
// Runtime API fails (a result that cannot be posted ends the process, as Lambda expects).
int lambdaCommand(const Result<Config>& cfg, std::string stage);

}  // namespace memberflow::cli
