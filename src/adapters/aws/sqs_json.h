// File: sqs_json.h
// SQS's JSON-protocol responses read into plain values: GetQueueUrl, GetQueueAttributes,
// SendMessageBatch and ReceiveMessage. Pure functions, no I/O, so the SQS adapter's parsing is
// fuzzed alone (fuzz_sqs). Each takes the response body as AwsClient::json returns it and
// returns Internal when it is not what the protocol describes (no exception escapes).
#pragma once

#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "ports/queue.h"

namespace memberflow::aws {

// The message attribute that carries a standard queue's dedup id (SqsQueue::send sets it);
// parseSqsMessages moves it into ReceivedMessage::dedupId.
inline constexpr const char* kSqsDedupAttribute = "memberflow-dedup-id";

// GetQueueUrl: the QueueUrl. Internal when there is none.
Result<std::string> parseSqsQueueUrl(const json::value& response);
// GetQueueAttributes with QueueArn: the ARN. Internal when there is none.
Result<std::string> parseSqsQueueArn(const json::value& response);
// GetQueueAttributes with the two message counts (visible, in flight; 0 when absent).
// Internal without Attributes.
Result<QueueStats> parseSqsQueueStats(const json::value& response);
// SendMessageBatch: how many entries failed (0: all were accepted).
Result<size_t> parseSqsFailedCount(const json::value& response);
// ReceiveMessage: the messages, one per element of Messages, in order (none when absent).
// Internal when an element is not a message object.
Result<std::vector<ReceivedMessage>> parseSqsMessages(const json::value& response);
// A Lambda SQS event (what an SQS event source mapping invokes a function with): the messages of
// Records, in order, as a ReceiveMessage would have returned them (attributes, message
// attributes, receive count, group and dedup ids). InvalidArgument when it is no SQS event or a
// record lacks its messageId or receiptHandle.
Result<std::vector<ReceivedMessage>> parseSqsEvent(const json::value& event);

}  // namespace memberflow::aws
