// The console's endpoints over the embedded adapters (a real Wiring on a temporary data
// directory, through the same WiringOperatorPorts the API process uses): scope, DLQ grouping,
// masking and audited reveal, redrive with a dry run and a reason group, the rules test with
// the bus's matcher, and the flow map's figures.
#include "console/console_api.h"

#include <gtest/gtest.h>

#include <fstream>

#include "adapters/embedded/sqlite_audit_log.h"
#include "cli/config.h"
#include "cli/operator_wiring.h"
#include "ops/dlq_work.h"
#include "support/test_support.h"

namespace memberflow::console {
namespace {

using memberflow::testing::TempDir;

class ConsoleApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.file("rules.json")) << R"({
      "targets": [{"name": "crm", "type": "webhook", "url": "http://127.0.0.1:9/crm"}],
      "rules": [{"name": "deletes", "targets": ["crm"], "inputPath": "$.detail",
                 "pattern": {"detail-type": ["member.deleted"]}},
                {"name": "all", "targets": ["crm"], "pattern": {"source": [{"prefix": ""}]}}]})";
    auto cfg = parseConfigToml("[storage]\ndata_dir = \"" + dir_.file("var") +
                                   "\"\n[bus]\nrules_file = \"" + dir_.file("rules.json") + "\"\n",
                               "test");
    ASSERT_TRUE(cfg.isOk()) << cfg.status().toString();
    ports_ = std::make_unique<cli::WiringOperatorPorts>(*cfg);
    redrivePorts_ = std::make_unique<cli::WiringOperatorPorts>(*cfg);
    auto audit = embedded::SqliteAuditLog::open(dir_.file("audit.db"), {});
    ASSERT_TRUE(audit.isOk());
    audit_ = std::move(*audit);
    api_ = std::make_unique<ConsoleApi>(*ports_, *redrivePorts_, *audit_, ConsoleOptions{});
    operatorClaims_.subject = "ops-person";
    operatorClaims_.scopes = {kOperateScope};
  }

  // A DLQ entry as a stage writes it: reason attribute, member group, a body with member data.
  void deadLetter(const std::string& dlq, const std::string& member, const std::string& reason,
                  int n) {
    auto q = ports_->dlq(dlq);
    ASSERT_TRUE(q.isOk());
    std::vector<OutgoingMessage> out;
    for (int i = 0; i < n; ++i) {
      std::string id = member + "-" + reason + "-" + std::to_string(i);
      out.push_back(
          {member,
           id,
           R"({"id":")" + id + R"(","type":"member.updated","subject":")" + member +
               R"(","data":{"member":{"name":{"first":"Renata"},"birthDate":"1985-05-05"},)"
               R"("lineage":{"partition":2,"offset":)" +
               std::to_string(40 + i) + R"(,"archiveKey":"raw/k.gz","archiveLine":3}}})",
           {{"reason", reason}, {"stage", "route"}}});
    }
    ASSERT_TRUE((*q)->send(out).isOk());
  }

  api::ApiResponse call(const std::string& method, const std::string& path,
                        const std::string& body = "",
                        std::map<std::string, std::string> query = {}) {
    api::ApiRequest r;
    r.method = method;
    r.target = path;
    r.body = body;
    return api_->handle(r, path, query, operatorClaims_);
  }
  static json::value body(const api::ApiResponse& r) { return *parseJson(r.body); }

  TempDir dir_;
  std::unique_ptr<cli::WiringOperatorPorts> ports_, redrivePorts_;
  std::unique_ptr<embedded::SqliteAuditLog> audit_;
  std::unique_ptr<ConsoleApi> api_;
  api::Claims operatorClaims_;
};

TEST_F(ConsoleApiTest, NeedsTheOperateScope) {
  api::Claims reader;
  reader.subject = "reader";
  reader.scopes = {"member:read", "member:write"};
  api::ApiRequest r{"GET", "/console/api/dlqs", {}, "", ""};
  EXPECT_EQ(api_->handle(r, r.target, {}, reader).status, 403);
  EXPECT_EQ(call("GET", "/console/api/dlqs").status, 200);
  EXPECT_EQ(call("GET", "/console/api/nothing").status, 404);
}

TEST_F(ConsoleApiTest, GroupsMasksRevealsWithAudit) {
  deadLetter("route", "M1", "not_a_member_event", 3);
  deadLetter("route", "M2", "timeout", 1);
  auto all = body(call("GET", "/console/api/dlqs"));
  const json::object* route = nullptr;
  for (const auto& d : all.at("dlqs").as_array())
    if (d.at("name") == "route") route = &d.as_object();
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->at("depth"), 4);
  const auto& groups = route->at("groups").as_array();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].at("reason"), "not_a_member_event");
  EXPECT_EQ(groups[0].at("count"), 3);

  auto listed = call("GET", "/console/api/dlqs/route/entries", "", {{"reason", "timeout"}});
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.body.find("Renata"), std::string::npos);
  EXPECT_EQ(listed.body.find("1985-05-05"), std::string::npos);
  auto entries = body(listed).at("entries").as_array();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].at("memberId"), "M2");
  EXPECT_EQ(entries[0].at("coordinates").at("offset"), 40);
  EXPECT_EQ(entries[0].at("coordinates").at("archiveKey"), "raw/k.gz");
  EXPECT_TRUE(audit_->recent(10)->empty());

  std::string id(entries[0].at("id").as_string());
  auto revealed = call("POST", "/console/api/dlqs/route/reveal", R"({"id":")" + id + "\"}");
  ASSERT_EQ(revealed.status, 200) << revealed.body;
  EXPECT_NE(revealed.body.find("Renata"), std::string::npos);
  auto log = audit_->recent(10);
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].who, "ops-person");
  EXPECT_EQ((*log)[0].action, "dlq.reveal");
  EXPECT_EQ((*log)[0].target, "route");
  EXPECT_EQ((*log)[0].detail.find("Renata"), std::string::npos);
}

TEST_F(ConsoleApiTest, RedrivesAReasonGroupAfterADryRun) {
  deadLetter("route", "M1", "not_a_member_event", 3);
  deadLetter("route", "M2", "timeout", 2);
  auto dry =
      call("POST", "/console/api/dlqs/route/redrive", R"({"reason":"timeout","dryRun":true})");
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_EQ(body(dry).at("wouldRedrive"), 2);
  EXPECT_EQ((*(*ports_->dlq("route"))->stats()).visible, 5);  // nothing moved
  EXPECT_TRUE(audit_->recent(10)->empty());                   // a dry run changes nothing

  auto done = call("POST", "/console/api/dlqs/route/redrive",
                   R"({"reason":"timeout","ratePerSecond":1000})");
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(body(done).at("redriven"), 2);
  EXPECT_EQ((*(*ports_->dlq("route"))->stats()).visible, 3);
  auto back = (*ports_->queueOf(**ports_->dlq("route")))->stats();
  EXPECT_EQ(back->visible, 2);  // back on the route queue
  auto log = audit_->recent(10);
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].action, "dlq.redrive");
  EXPECT_EQ((*log)[0].count, 2);
  EXPECT_EQ((*log)[1].action, "dlq.redrive.start");

  // A malformed field is refused, never taken as "redrive everything" or "not a dry run".
  for (const char* bad : {R"({"ratePerSecond":-1})", R"({"dryRun":"true","reason":"timeout"})",
                          R"({"ids":"abc"})", R"({"ids":[]})", R"({"reason":5})",
                          R"({"reason":"free text, with spaces"})", R"({"all":true})", "[]"}) {
    EXPECT_EQ(call("POST", "/console/api/dlqs/route/redrive", bad).status, 400) << bad;
  }
  EXPECT_EQ((*(*ports_->dlq("route"))->stats()).visible, 3);
  EXPECT_EQ(call("POST", "/console/api/dlqs/nosuch/redrive", "{}").status, 400);
}

// A long redrive outlives the visibility of the entries it leaves on the DLQ (still invalid,
// or not selected): they come back while it runs, and must be neither taken for second copies
// of themselves (and deleted) nor counted twice.
TEST_F(ConsoleApiTest, EntriesThatComeBackDuringARedriveStayOnTheDlq) {
  auto q = ports_->dlq("ingest");
  ASSERT_TRUE(q.isOk());
  std::vector<OutgoingMessage> out;
  for (const char* member : {"K1", "K2"}) {
    std::string id = std::string("coresys:") + member;
    out.push_back(
        {member,
         id,
         R"({"reason":"malformed_json","messageId":")" + id + R"(","memberId":")" + member +
             R"(","lineage":{"topic":"t","partition":0,"offset":1,"archiveKey":"raw/k.gz",)"
             R"("archiveLine":1},"record":{"partition":0,"offset":1,"timestamp":1,)"
             R"("headers":{},"key":{"member_id":")" +
             member + R"("},"value":"{not json"}})",
         {{"reason", "malformed_json"}, {"stage", "ingest"}}});
  }
  ASSERT_TRUE((*q)->send(out).isOk());
  ops::RedriveRequest req;
  req.batch = 1;
  req.holdMs = 1;  // every entry left is visible again at once
  auto r = ops::redriveDlq(*ports_, "ingest", req);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->redriven, 0);
  EXPECT_EQ(r->copiesDropped, 0);
  auto left = ops::dlqEntries(*ports_, "ingest", std::nullopt, 100);
  ASSERT_TRUE(left.isOk());
  EXPECT_EQ(left->size(), 2u);  // still invalid: both kept
}

TEST_F(ConsoleApiTest, TestsRulesWithTheBusMatcherAndMasksTheInput) {
  std::string event = R"({"event":{"specversion":"1.0","id":"e1","source":"memberflow/member-api",
      "type":"member.deleted","subject":"M7","time":"2026-01-01T00:00:00Z",
      "data":{"member":{"name":{"first":"Renata"}},"version":3}}})";
  auto r = call("POST", "/console/api/rules/test", event);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.find("Renata"), std::string::npos);
  auto matches = body(r).at("matches").as_array();
  ASSERT_EQ(matches.size(), 2u);
  EXPECT_EQ(matches[0].at("rule"), "deletes");
  // inputPath $.detail: the target receives the event itself (the detail), masked.
  EXPECT_EQ(matches[0].at("targets").as_array()[0].at("input").at("subject"), "M7");

  std::string updated = event;
  updated.replace(updated.find("member.deleted"), 14, "member.updated");
  auto u = body(call("POST", "/console/api/rules/test", updated));
  ASSERT_EQ(u.at("matches").as_array().size(), 1u);
  EXPECT_EQ(u.at("matches").as_array()[0].at("rule"), "all");

  // An EventBridge envelope is tested as it is.
  auto env = body(call("POST", "/console/api/rules/test",
                       R"({"event":{"detail-type":"member.deleted","source":"memberflow/member-api",
                           "detail":{"subject":"M7"}}})"));
  ASSERT_EQ(env.at("matches").as_array().size(), 2u);
  EXPECT_EQ(env.at("matches").as_array()[0].at("rule"), "deletes");

  auto shown = call("POST", "/console/api/rules/test",
                    event.substr(0, event.size() - 1) + R"(,"reveal":true})");
  EXPECT_NE(shown.body.find("Renata"), std::string::npos);
  EXPECT_EQ((*audit_->recent(1))[0].action, "rules.reveal");

  auto rules = body(call("GET", "/console/api/rules"));
  EXPECT_EQ(rules.at("rules").as_array().size(), 2u);
  EXPECT_EQ(rules.at("rules").as_array()[0].at("hits"), 0);
  EXPECT_EQ(rules.at("targets").as_array()[0].at("type"), "webhook");
}

TEST_F(ConsoleApiTest, FlowMapShowsQueueDepthsAndDlqBadges) {
  deadLetter("route", "M1", "timeout", 2);
  ASSERT_TRUE(api_->sampler().sampleNow().isOk());
  ASSERT_TRUE(api_->sampler().sampleNow().isOk());
  auto flow = body(call("GET", "/console/api/flow"));
  std::map<std::string, json::object> nodes;
  for (const auto& n : flow.at("nodes").as_array())
    nodes[std::string(n.at("id").as_string())] = n.as_object();
  ASSERT_TRUE(nodes.count("source") && nodes.count("sync") && nodes.count("target-crm"));
  EXPECT_EQ(nodes["source"].at("records"), 0);
  EXPECT_EQ(nodes["route"].at("dlq").at("depth"), 2);
  EXPECT_EQ(nodes["relay"].at("outbox"), 0);
  EXPECT_EQ(flow.at("trend").as_array().size(), 2u);
  // The status endpoint is `memberflow status`'s JSON.
  auto status = body(call("GET", "/console/api/status"));
  EXPECT_EQ(status.at("queues").at("route-dlq").at("visible"), 2);
}

}  // namespace
}  // namespace memberflow::console
