// File: produce_line.h
// One line of `memberflow produce` input (DESIGN.md §7): a JSON object with key, value,
// headers, partition and timestamp, read into the record the ChangeSink appends. Pure
// functions, no I/O, so the parser is fuzzed alone (fuzz_produce).
#pragma once

#include <optional>
#include <string>

#include "common/json.h"
#include "common/status.h"
#include "ports/change_source.h"

namespace memberflow::cli {

// The bytes a JSON key or value stands for: a string is its text, null is absent (a
// tombstone value), anything else is its compact JSON.
std::optional<std::string> jsonToBytes(const json::value& v);

// Parses one line. InvalidArgument (naming the field, never its content) when the line is not
// a JSON object, has an unknown field, lacks `value`, or has a field of the wrong type.
Result<ProduceRecord> parseProduceLine(const std::string& line);

}  // namespace memberflow::cli
