// File: sns_xml.h
// SNS's query-protocol (XML) responses read into plain values: CreateTopic and PublishBatch.
// Pure functions, no I/O, so the SNS adapter's parsing is fuzzed alone (fuzz_sns).
#pragma once

#include <string>

#include "common/status.h"

namespace memberflow::aws {

// CreateTopic: the TopicArn. Internal when the body is not XML or names no topic.
Result<std::string> parseSnsTopicArn(const std::string& body);

// PublishBatch: true when the response lists a failed entry (a <Failed><member>).
bool snsPublishBatchFailed(const std::string& body);

}  // namespace memberflow::aws
