// Fuzz target: one line of `memberflow produce` input (DESIGN.md §7) through parseProduceLine.
// Any crash, sanitizer report, uncaught exception or broken invariant (abort) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cli/produce_line.h"

using namespace memberflow;

namespace {
// The line `generate` would write for the record: key and value as strings (their bytes),
// null when absent.
std::string lineOf(const ProduceRecord& r) {
  json::object o;
  o["key"] = r.key ? json::value(*r.key) : json::value(nullptr);
  o["value"] = r.value ? json::value(*r.value) : json::value(nullptr);
  json::object h;
  for (const auto& [k, v] : r.headers) h[k] = v;
  if (!r.headers.empty()) o["headers"] = std::move(h);
  if (r.partition) o["partition"] = *r.partition;
  if (r.timestampMs) o["timestamp"] = *r.timestampMs;
  return json::serialize(o);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  auto r = cli::parseProduceLine(in);
  if (!r.isOk()) return 0;
  // A field the line sets is used or the line is refused, never silently dropped.
  auto v = parseJson(in);
  const json::object& o = v->get_object();
  if (const json::value* p = field(o, "partition"); p && !p->is_null() && !r->partition)
    std::abort();
  if (const json::value* t = field(o, "timestamp"); t && !t->is_null() && !r->timestampMs)
    std::abort();
  // The record written back as a line reads the same.
  auto back = cli::parseProduceLine(lineOf(*r));
  if (!back.isOk() || back->key != r->key || back->value != r->value ||
      back->headers != r->headers || back->partition != r->partition ||
      back->timestampMs != r->timestampMs) {
    std::abort();
  }
  return 0;
}
