// File: fakes.h
// Fakes of ports for stage unit tests, where no real adapter fits: a scripted HttpClient (the
// Member API, webhooks, AWS), a recording EventBus, secrets from a map. Wrap them in the
// fault-injecting wrappers of fault_injection.h to make them fail.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/json.h"
#include "ports/event_bus.h"
#include "ports/http_client.h"
#include "ports/secrets.h"

namespace memberflow::testing {

class ScriptedHttp final : public HttpClient {
 public:
  // Responses per last path segment of the URL (a member id, "readyz", a webhook's path),
  // consumed in order; the last one repeats. Unscripted: 200.
  std::map<std::string, std::deque<HttpResult>> script;
  std::vector<HttpRequest> seen;
  std::mutex mu;
  HttpResult send(const HttpRequest& r) override {
    std::lock_guard lock(mu);
    seen.push_back(r);
    std::string id = r.url.substr(r.url.rfind('/') + 1);
    if (id == "members:batchWrite" && !script.count(id)) return batch(r);
    return next(id);
  }
  // POST /members:batchWrite answered item by item from each member's script (a transport
  // failure scripted for any item fails the whole request). Scripting "members:batchWrite"
  // itself answers the whole request instead.
  int batches = 0;
  std::vector<std::vector<std::string>> batchItems;  // the member ids of each batch, in order
  static HttpResult status(int s, std::string body = "{}") {
    HttpResult r;
    r.response.status = s;
    r.response.body = std::move(body);
    return r;
  }
  // The requests so far whose URL ends with `suffix`.
  std::vector<HttpRequest> sentTo(const std::string& suffix) {
    std::lock_guard lock(mu);
    std::vector<HttpRequest> out;
    for (const auto& r : seen) {
      if (r.url.ends_with(suffix)) out.push_back(r);
    }
    return out;
  }
  static HttpResult unreachable() {
    HttpResult r;
    r.transport = HttpResult::Transport::kNotSent;
    r.error = "connection refused";
    return r;
  }

 private:
  HttpResult next(const std::string& id) {
    auto& q = script[id];
    if (q.empty()) return status(200);
    HttpResult out = q.front();
    if (q.size() > 1) q.pop_front();
    return out;
  }
  HttpResult batch(const HttpRequest& r) {
    ++batches;
    json::value doc = json::parse(r.body);
    json::array results;
    std::vector<std::string> ids;
    for (const auto& item : doc.at("items").as_array()) {
      std::string id(item.at("memberId").as_string());
      ids.push_back(id);
      HttpResult one = next(id);
      if (!one.ok()) return one;
      json::object res{{"status", one.response.status}};
      if (one.response.status >= 400) {
        auto p = json::parse(one.response.body);
        if (p.is_object()) res["problem"] = p;
      }
      results.push_back(std::move(res));
    }
    batchItems.push_back(std::move(ids));
    return status(200, json::serialize(json::object{{"results", std::move(results)}}));
  }
};

// The value of a request header, or empty.
inline std::string headerOf(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

// Accepts every entry and keeps it.
class RecordingBus final : public EventBus {
 public:
  explicit RecordingBus(std::string name = "default") : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  Result<std::vector<Status>> put(const std::vector<BusEntry>& entries) override {
    std::lock_guard lock(mu_);
    got_.insert(got_.end(), entries.begin(), entries.end());
    return std::vector<Status>(entries.size());
  }
  std::vector<BusEntry> got() const {
    std::lock_guard lock(mu_);
    return got_;
  }

 private:
  std::string name_;
  mutable std::mutex mu_;
  std::vector<BusEntry> got_;
};

class MapSecrets final : public Secrets {
 public:
  std::map<std::string, std::string> values;
  Result<std::string> get(const std::string& name) override {
    auto it = values.find(name);
    if (it == values.end()) return Status::notFound("no secret " + name);
    return it->second;
  }
};

}  // namespace memberflow::testing
