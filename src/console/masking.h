// File: masking.h
// Personal data masked for the console (issue 17): a DLQ entry, a raw archive line or a test
// event keeps its structure and its keys, and every value whose key is not on an allow-list
// becomes "•••". The allow-list depends on where the value sits: around the data (ids, message
// ids, reasons, coordinates, pipeline timestamps), in Debezium's source block (the connector's
// coordinates, never `query`), in memberflow's lineage (all), and in a member's row or
// representation (before, after, member: the member id only). A string that holds JSON (a
// Debezium value inside a record) is masked inside. An allow-list, not a deny-list: a column
// added to the source tomorrow is masked by default, whatever its name.
#pragma once

#include <string>

#include "common/json.h"

namespace memberflow::console {

inline constexpr const char* kMask = "\u2022\u2022\u2022";

json::value masked(const json::value& v);
// The text parsed and masked; text that is not JSON is masked whole.
json::value maskedText(const std::string& text);

}  // namespace memberflow::console
