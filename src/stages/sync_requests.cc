// How sync turns changes into Member API requests and their answers into decisions: one
// change as a PUT or DELETE, or several as one POST /members:batchWrite, with a token refresh on
// 401; the cause of each outcome, and whether a retry spends an attempt (sync.h). The loop that
// schedules them per member is in sync.cc, parking in sync_parking.cc.
#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "domain/change_command.h"
#include "stages/sync.h"

namespace memberflow {
namespace {

constexpr const char* kStage = "sync";

// Seconds from the source's change to its application, per applied change.
prometheus::Histogram& appliedLag() {
  static prometheus::Histogram& h = Metrics::instance().lagSeconds("applied");
  return h;
}

// The `type` of a problem+json body, or empty.
std::string problemType(const std::string& body) {
  auto v = parseJson(body);
  if (!v.isOk() || !v->is_object()) return {};
  return stringField(v->get_object(), "type").value_or("");
}

}  // namespace

std::string SyncStage::reasonCode(const Decision& d) {
  std::string r;
  switch (d.cause) {
    case Cause::kNone: break;
    case Cause::kInvalidCommand: r = d.detail; break;
    case Cause::kGroupMismatch: r = "group_mismatch"; break;
    case Cause::kTokenUnavailable: r = "token_unavailable"; break;
    case Cause::kApiUnreachable: r = "api_unreachable"; break;
    case Cause::kApiNoResponse: r = "api_no_response"; break;
    case Cause::kApiStatus: r = "api_status_" + std::to_string(d.status); break;
    case Cause::kApiRejected: r = "api_rejected_" + std::to_string(d.status); break;
    case Cause::kStale: r = "stale"; break;
    case Cause::kNotFound: r = "not_found"; break;
    case Cause::kBehindRetry: r = "behind_retry"; break;
    case Cause::kDeadline: r = "deadline"; break;
    case Cause::kParked: r = "parked"; break;
  }
  return d.exhausted ? "attempts_exhausted:" + r : r;
}

// The API (or its token endpoint) is down or overloaded: sync pauses until it is ready.
bool SyncStage::apiUnavailable(const Decision& d) {
  switch (d.cause) {
    case Cause::kApiUnreachable:
    case Cause::kApiNoResponse:
    case Cause::kTokenUnavailable: return true;
    case Cause::kApiStatus: return d.status == 502 || d.status == 503 || d.status == 504;
    default: return false;
  }
}

// Whether a retry counts toward the change's attempt limit: not when it only waited behind an
// earlier change of its member, was not started before the deadline, found the API unavailable,
// or was throttled (429) — none of those says anything about the change.
bool SyncStage::spendsAnAttempt(const Decision& d) {
  return d.cause != Cause::kBehindRetry && d.cause != Cause::kDeadline &&
         !(d.cause == Cause::kApiStatus && d.status == 429) && !apiUnavailable(d);
}

long SyncStage::requestTimeout() const {
  if (opts_.deadlineMs <= 0) return opts_.requestTimeoutMs;
  return std::clamp<long>(static_cast<long>(opts_.deadlineMs - clock_.nowMs()), 1L,
                          opts_.requestTimeoutMs);
}

std::optional<SyncStage::Decision> SyncStage::prepare(const ReceivedMessage& m,
                                                      ChangeCommand* cmd) const {
  auto parsed = parseCommand(m.body, std::numeric_limits<int32_t>::max());
  if (!parsed.isOk())
    return Decision{Verdict::kDeadLetter, Cause::kInvalidCommand, 0,
                    memberflow::reasonCode(parsed.status())};
  if (parsed->memberId != m.groupId) return Decision{Verdict::kDeadLetter, Cause::kGroupMismatch};
  *cmd = std::move(parsed).value();
  return std::nullopt;
}

SyncStage::Decision SyncStage::send(HttpRequest req, HttpResponse* out) {
  std::string rejected;
  for (int authAttempt = 0; authAttempt < 2; ++authAttempt) {
    auto token = authAttempt == 0 ? tokens_.token(false) : tokens_.refresh(rejected);
    if (!token.isOk()) return {Verdict::kRetry, Cause::kTokenUnavailable};
    auto sent = req;
    sent.headers.emplace_back("Authorization", "Bearer " + *token);
    HttpResult r = http_.send(sent);
    if (!r.ok()) {
      return {Verdict::kRetry, r.transport == HttpResult::Transport::kNotSent
                                   ? Cause::kApiUnreachable
                                   : Cause::kApiNoResponse};
    }
    if (r.response.status == 401 && authAttempt == 0) {  // refresh the token once
      rejected = *token;
      continue;
    }
    *out = std::move(r.response);
    return {Verdict::kDone, Cause::kNone};
  }
  return {Verdict::kRetry, Cause::kApiStatus, 401};  // rejected after a refresh too
}

SyncStage::Decision SyncStage::classify(int st, const std::string& problem,
                                        const ChangeCommand& cmd) {
  if (st >= 200 && st < 300) {
    if (cmd.sourceTsMs > 0) {
      appliedLag().Observe(static_cast<double>(clock_.nowMs() - cmd.sourceTsMs) / 1000.0);
    }
    return {Verdict::kDone, Cause::kNone};
  }
  if (st == 409 && problem.find("stale-source-sequence") != std::string::npos) {
    return {Verdict::kStale, Cause::kStale};
  }
  if (st == 404 && cmd.op == ChangeCommand::Op::kDelete) return {Verdict::kDone, Cause::kNotFound};
  if (st == 401 || st == 403 || st == 408 || st == 429 || st >= 500) {
    return {Verdict::kRetry, Cause::kApiStatus, st};
  }
  return {Verdict::kDeadLetter, Cause::kApiRejected, st};
}

SyncStage::Decision SyncStage::apply(const ReceivedMessage& m) {
  ChangeCommand cmd;
  if (auto early = prepare(m, &cmd)) return *early;
  HttpRequest req;
  bool isDelete = cmd.op == ChangeCommand::Op::kDelete;
  req.method = isDelete ? "DELETE" : "PUT";
  req.url = opts_.apiBaseUrl + "/member/" + cmd.memberId;
  req.timeoutMs = requestTimeout();
  if (!isDelete) {
    req.body = memberJsonText(*cmd.member);
    req.headers.emplace_back("Content-Type", "application/json");
  }
  req.headers.emplace_back("Idempotency-Key", cmd.messageId);
  req.headers.emplace_back("X-Source-Sequence", std::to_string(cmd.sourceSequence));
  std::string lineage;
  appendLineageJson(lineage, cmd.lineage);
  req.headers.emplace_back("X-Lineage", std::move(lineage));
  req.headers.emplace_back("X-Message-Id", cmd.messageId);
  HttpResponse resp;
  Decision d = send(std::move(req), &resp);
  if (d.verdict != Verdict::kDone) return d;
  return classify(resp.status, problemType(resp.body), cmd);
}

std::vector<SyncStage::Decision> SyncStage::applyBatch(
    const std::vector<const ReceivedMessage*>& ms) {
  std::vector<Decision> out(ms.size());
  std::vector<ChangeCommand> cmds(ms.size());
  std::vector<size_t> sent;  // the messages that became items
  // {"items":[{"op", "memberId", "idempotencyKey", "sourceSequence", "messageId", "lineage",
  // "member" unless a delete}, ...]}, written directly: a request carries up to max_batch
  // members.
  std::string body = "{\"items\":[";
  body.reserve(ms.size() * 900);
  for (size_t i = 0; i < ms.size(); ++i) {
    if (auto early = prepare(*ms[i], &cmds[i])) {
      out[i] = *early;
      continue;
    }
    const ChangeCommand& c = cmds[i];
    bool isDelete = c.op == ChangeCommand::Op::kDelete;
    body += sent.empty() ? "{\"op\":" : ",{\"op\":";
    body += isDelete ? "\"delete\"" : "\"put\"";
    body += ",\"memberId\":";
    appendJsonString(body, c.memberId);
    body += ",\"idempotencyKey\":";
    appendJsonString(body, c.messageId);
    body += ",\"sourceSequence\":";
    body += std::to_string(c.sourceSequence);
    body += ",\"messageId\":";
    appendJsonString(body, c.messageId);
    body += ",\"lineage\":";
    appendLineageJson(body, c.lineage);
    if (!isDelete) {
      body += ",\"member\":";
      appendMemberJson(body, *c.member);
    }
    body += '}';
    sent.push_back(i);
  }
  if (sent.empty()) return out;
  body += "]}";
  HttpRequest req;
  req.method = "POST";
  req.url = opts_.apiBaseUrl + "/members:batchWrite";
  req.timeoutMs = requestTimeout();
  req.headers.emplace_back("Content-Type", "application/json");
  // Each item's status and problem are all sync reads: no member documents in the results.
  req.headers.emplace_back("Prefer", "return=minimal");
  req.body = std::move(body);
  HttpResponse resp;
  Decision whole = send(std::move(req), &resp);
  const json::array* results = nullptr;
  json::value doc;
  if (whole.verdict == Verdict::kDone) {
    if (resp.status == 200) {
      auto parsed = parseJson(resp.body);
      if (parsed.isOk() && parsed->is_object()) {
        doc = std::move(parsed).value();
        if (const json::value* r = field(doc.get_object(), "results");
            r && r->is_array() && r->get_array().size() == sent.size()) {
          results = &r->get_array();
        }
      }
      // An answer that is no result per item: as a bad gateway, retried.
      if (!results) whole = {Verdict::kRetry, Cause::kApiStatus, 502};
    } else if (resp.status == 400 || resp.status == 404 || resp.status == 405 ||
               resp.status == 413) {
      // The API refuses the batch itself (one without the endpoint, a body over its limit):
      // each change goes as its own request, as it always could.
      log::warn("batch write refused, sending single requests",
                {kStage, {}, {}, {}, "fallback", "status " + std::to_string(resp.status)});
      for (size_t i : sent) out[i] = apply(*ms[i]);
      return out;
    } else {
      whole = classify(resp.status, problemType(resp.body), ChangeCommand{});
      if (whole.verdict != Verdict::kRetry) whole = {Verdict::kRetry, Cause::kApiStatus, 502};
    }
  }
  for (size_t k = 0; k < sent.size(); ++k) {
    size_t i = sent[k];
    if (!results) {
      out[i] = whole;
      continue;
    }
    const json::value& r = (*results)[k];
    int st = 502;
    std::string type;
    if (r.is_object()) {
      st = static_cast<int>(intField(r.get_object(), "status").value_or(502));
      if (const json::value* p = field(r.get_object(), "problem"); p && p->is_object())
        type = stringField(p->get_object(), "type").value_or("");
    }
    out[i] = classify(st, type, cmds[i]);
  }
  return out;
}

}  // namespace memberflow
