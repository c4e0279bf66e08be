// Fuzz target: a TOML configuration file through the config loader (parseConfigToml, the file
// part of loadConfig) and checkConfig. Any crash, sanitizer report, uncaught exception or
// broken invariant (abort) is a finding.
#include "cli/config.h"

#include <toml++/toml.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

using namespace memberflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  auto c = parseConfigToml(in, "fuzz.toml");
  if (!c.isOk()) return 0;
  auto problems = checkConfig(*c);
  if (!problems.empty()) return 0;
  // A config that loads and passes the checks holds the integers the file wrote: a value the
  // setting cannot hold is refused, not wrapped into one that passes.
  toml::table t = toml::parse(std::string_view(in), std::string_view("fuzz.toml"));
  if (const auto* p = t["source"]["partitions"].as_integer(); p && p->get() != c->partitions)
    std::abort();
  return 0;
}
