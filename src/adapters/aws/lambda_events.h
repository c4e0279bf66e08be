// File: lambda_events.h
// What AWS Lambda's Kafka event source mappings (MSK and self-managed Kafka) invoke a function
// with, turned into the batch that the ingest loop would have polled (DESIGN.md §9), and the
// answer the SQS event source mapping reads back for partial batch failures.
// (The SQS event itself is read by parseSqsEvent, sqs_json.h.)
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "domain/debezium.h"

namespace memberflow::aws {

// The records of a Kafka event: {"eventSource": "aws:kafka" | "SelfManagedKafka",
// "records": {"<topic>-<partition>": [{"topic", "partition", "offset", "timestamp",
// "key", "value", "headers": [{"name": [byte, ...]}]}]}}.
// - key and value are base64; absent or null is a null key / a tombstone;
// - partition and offset may be numbers or strings of digits;
// - the records come back in (topic, partition, offset) order.
// InvalidArgument, naming the coordinates of the first bad record (never its content), when it
// is no Kafka event or a record cannot be read: the whole event is refused, so that the mapping
// retries it and nothing of it is taken half.
Result<std::vector<SourceRecord>> parseKafkaEvent(const json::value& event);

// {"batchItemFailures": [{"itemIdentifier": id}, ...]}, in the order given.
std::string batchItemFailures(const std::vector<std::string>& messageIds);

}  // namespace memberflow::aws
