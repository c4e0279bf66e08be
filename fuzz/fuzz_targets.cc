// libFuzzer targets for every parser that reads outside input. Select one with
// -DMEMBERFLOW_FUZZ_TARGET=<n> at compile time (see fuzz/CMakeLists.txt):
//   1 debezium: a raw record (key NUL value) through decode and transform
//   2 member:   an API body through the canonical member parser
//   3 command:  a queue message through the change command parser
//   4 jwt:      a bearer token through the verifier
//   5 pattern:  an EventBridge event pattern through the parser, then matched
// Any crash, sanitizer report or broken invariant (abort) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "api/jwt.h"
#include "domain/change_command.h"
#include "domain/debezium.h"
#include "domain/event_pattern.h"
#include "domain/member.h"
#include "domain/transform.h"

using namespace memberflow;

namespace {
class FixedClock final : public Clock {
 public:
  int64_t nowMs() const override { return 1767225600000; }
  MonotonicTime monotonicNow() const override { return {}; }
  bool sleepFor(std::chrono::milliseconds, std::stop_token stop) const override {
    return !stop.stop_requested();  // the parsers never sleep
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
#if MEMBERFLOW_FUZZ_TARGET == 1
  SourceRecord r;
  auto nul = in.find('\0');
  if (nul != std::string::npos) {
    r.key = in.substr(0, nul);
    r.value = in.substr(nul + 1);
  } else {
    r.value = in;
  }
  DecodedChange d = decodeChange(r);
  if (d.messageId.empty()) std::abort();  // every record gets an id, even garbage
  if (d.status.isOk() && d.op != ChangeOp::kTombstone) {
    auto c = toCommand(d, {}, 0, 20000);
    if (c.isOk()) {
      // A command survives the queue unchanged.
      auto back = parseCommand(serializeCommand(*c), 20000);
      if (!back.isOk() || back->member != c->member) std::abort();
    }
  }
#elif MEMBERFLOW_FUZZ_TARGET == 2
  auto v = parseJson(in);
  if (v.isOk()) {
    auto m = memberFromJson(*v, std::nullopt, 20000);
    if (m.isOk()) {
      // The canonical form is a fixed point.
      auto again = memberFromJson(memberJson(*m), std::nullopt, 20000);
      if (!again.isOk() || !(*again == *m)) std::abort();
    }
  }
#elif MEMBERFLOW_FUZZ_TARGET == 3
  (void)parseCommand(in, 20000);
#elif MEMBERFLOW_FUZZ_TARGET == 4
  // The JWT verifier with an HMAC and an EC key (RFC 7515 A.1 and A.3), every algorithm on.
  static const api::JwkSet keys = *api::JwkSet::parse(
      R"({"keys":[{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"},)"
      R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})");
  static const api::JwtPolicy policy = [] {
    api::JwtPolicy p;
    p.algorithms.insert("HS256");
    return p;
  }();
  auto payload = api::verifyJws(in, keys, policy);
  if (payload.isOk()) {
    if (std::count(in.begin(), in.end(), '.') != 2) std::abort();
    (void)api::checkJwtClaims(*payload, policy, 1300000000);
  }
#elif MEMBERFLOW_FUZZ_TARGET == 5
  static const json::value event = json::parse(
      R"({"source":"memberflow/member-api","type":"member.updated","data":{"member":{"memberId":"M1",)"
      R"("address":{"state":"IA","postalCode":"50309"},"tags":["a","b"]},"version":3,)"
      R"("items":[{"k":"x","v":1},{"k":"y"}]},"ip":"10.0.0.7"})");
  auto p = EventPattern::parse(in);
  if (p.isOk()) {
    (void)p->matches(event);
    RuleSet rs;
    if (!rs.add("r", json::parse(in)).isOk()) std::abort();  // parse and add agree
    if ((rs.match(event).size() == 1) != p->matches(event)) std::abort();  // index is exact
  }
#else
#error "define MEMBERFLOW_FUZZ_TARGET"
#endif
  return 0;
}
