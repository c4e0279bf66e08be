// File: masking.h
// Personal data masked for the console (issue 17): a DLQ entry, a raw archive line or a test
// event keeps its structure and its keys, and every value whose key is not on an allow-list
// of non-personal fields (ids, message ids, reasons, source coordinates, pipeline timestamps)
// becomes "•••". A string that holds JSON (a Debezium value inside a record) is masked inside.
// An allow-list, not a deny-list: a field added to the source tomorrow is masked by default.
#pragma once

#include <string>

#include "common/json.h"

namespace memberflow::console {

inline constexpr const char* kMask = "\u2022\u2022\u2022";

json::value masked(const json::value& v);
// The text parsed and masked; text that is not JSON is masked whole.
json::value maskedText(const std::string& text);

}  // namespace memberflow::console
