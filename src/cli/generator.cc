#include "cli/generator.h"

#include <map>
#include <random>
#include <vector>

#include "common/json.h"

namespace memberflow {
namespace {

const char* kFirst[] = {"Ada", "Grace", "Alan",  "Zoë",   "José",  "Łukasz", "Amélie",  "美咲",
                        "Olu", "Priya", "Søren", "Chloé", "Mateo", "Aiyana", "Nikolai", "Fatima"};
const char* kLast[] = {"Lovelace",    "Hopper",  "Turing", "Müller",     "García",
                       "Nowak",       "O'Brien", "山田",   "Okafor",     "Patel",
                       "Kierkegaard", "Dubois",  "Rossi",  "Smith-Jones"};
const char* kCity[] = {"Des Moines", "Ames", "Cedar Rapids", "Iowa City", "Omaha", "Chicago"};
const char* kState[] = {"IA", "ia", "NE", "IL", "mn"};
const char* kPlan[] = {"PPO-GOLD", "HMO-SILVER", "EPO-BRONZE", "HDHP-1"};

class Gen {
 public:
  Gen(const GeneratorOptions& o, const std::function<void(std::string)>& emit)
      : o_(o), emit_(emit), rng_(o.seed) {}

  void run() {
    for (int64_t i = 0; i < o_.count;) i += step();
  }

 private:
  double u() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  int64_t pick(int64_t n) { return std::uniform_int_distribution<int64_t>(0, n - 1)(rng_); }
  template <class T, size_t N>
  const char* any(T (&a)[N]) {
    return a[pick(static_cast<int64_t>(N))];
  }

  std::string memberId(int64_t n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "M%07lld", static_cast<long long>(n));
    return buf;
  }

  json::object newRow(const std::string& id) {
    json::object r;
    r["member_id"] = id;
    r["first_name"] = pick(10) == 0 ? std::string("  ") + any(kFirst) + " " : any(kFirst);
    r["last_name"] = any(kLast);
    r["middle_name"] = pick(3) == 0 ? json::value("Q") : json::value(nullptr);
    r["suffix"] = pick(10) == 0 ? json::value("Jr.") : json::value(nullptr);
    int64_t days = -20000 + pick(25000);  // 1915..1988
    if (pick(2) == 0) {
      r["birth_date"] = days;
    } else {
      static const char* iso[] = {"1961-04-12", "1990-01-31", "1985-07-04", "2001-09-09"};
      r["birth_date"] = any(iso);
    }
    static const char* g[] = {"M", "F", "U", "X"};
    r["gender"] = any(g);
    r["email"] = pick(5) == 0 ? json::value(nullptr) : json::value(id + "@example.org");
    switch (pick(4)) {
      case 0: r["phone"] = "(515) 555-" + std::to_string(1000 + pick(9000)); break;
      case 1: r["phone"] = "1 515 555 " + std::to_string(1000 + pick(9000)); break;
      case 2: r["phone"] = "+44 20 7946 " + std::to_string(1000 + pick(9000)); break;
      default: r["phone"] = nullptr;
    }
    r["address_line1"] = std::to_string(1 + pick(999)) + " Main St";
    r["address_line2"] = nullptr;
    r["city"] = any(kCity);
    r["state"] = any(kState);
    r["postal_code"] = pick(2) == 0 ? "50309" : "50309-1234";
    if (pick(3) != 0) r["country"] = pick(2) == 0 ? "US" : "us";
    r["plan_id"] = any(kPlan);
    r["group_number"] = "G" + std::to_string(100 + pick(50));
    r["subscriber_id"] = "S" + std::to_string(pick(100000));
    static const char* rel[] = {"self", "spouse", "child", "other"};
    r["relationship"] = any(rel);
    int64_t start = 19000 + pick(1000);
    r["coverage_start"] = start;
    r["coverage_end"] = pick(4) == 0 ? json::value(start + 365) : json::value(nullptr);
    static const char* st[] = {"A", "A", "A", "I", "T"};
    r["status"] = any(st);
    r["legacy_flag"] = pick(2) == 0;  // an unknown column: ignored
    return r;
  }

  void mutate(json::object& r) {
    switch (pick(6)) {
      case 0: r["last_name"] = any(kLast); break;
      case 1: r["city"] = any(kCity); break;
      case 2:
        r["email"] = json::value(std::string(r["member_id"].as_string()) + "+" +
                                 std::to_string(pick(100)) + "@example.org");
        break;
      case 3: r["status"] = pick(2) == 0 ? "I" : "A"; break;
      case 4: r["plan_id"] = any(kPlan); break;
      default: r["address_line1"] = std::to_string(1 + pick(999)) + " Oak Ave"; break;
    }
  }

  json::object envelope(const char* op, const json::value& before, const json::value& after,
                        int64_t lsn, int64_t ts) {
    return json::object{{"before", before},
                        {"after", after},
                        {"source", json::object{{"version", "2.7.0.Final"},
                                                {"connector", "postgresql"},
                                                {"name", "coresys"},
                                                {"ts_ms", ts},
                                                {"db", "core"},
                                                {"schema", "public"},
                                                {"table", "member"},
                                                {"txId", 1000 + lsn},
                                                {"lsn", lsn}}},
                        {"op", op},
                        {"ts_ms", ts + 3}};
  }

  json::value maybeWrap(json::object env) {
    if (u() >= o_.schemaWrapperRatio) return env;
    return json::object{
        {"schema", json::object{{"type", "struct"}, {"name", "coresys.public.member.Envelope"}}},
        {"payload", std::move(env)}};
  }

  // Bounded memory: duplicates and replays are drawn from the most recent records.
  static constexpr size_t kWindow = 4096;
  template <class T>
  static void remember(std::vector<T>& v, T item) {
    if (v.size() == kWindow) v.erase(v.begin(), v.begin() + kWindow / 2);
    v.push_back(std::move(item));
  }

  void out(const json::object& line) {
    std::string s = json::serialize(line);
    remember(history_, s);
    emit_(std::move(s));
  }

  json::object keyOf(const std::string& id) { return json::object{{"member_id", id}}; }

  // Emits one logical step; returns the number of records written.
  int64_t step() {
    ++lsn_;
    int64_t ts = o_.startTsMs + lsn_ * 7;
    double r = u();
    double acc = o_.duplicateRatio;
    if (r < acc && !history_.empty()) {
      std::string again =
          history_[static_cast<size_t>(pick(static_cast<int64_t>(history_.size())))];
      emit_(again);
      return 1;
    }
    acc += o_.staleRatio;
    if (r < acc && !changes_.empty()) {
      // An old change re-published under a new id: its lsn is behind the member's.
      json::object old = changes_[static_cast<size_t>(pick(static_cast<int64_t>(changes_.size())))];
      old["headers"] = json::object{{"id", "replay-" + std::to_string(lsn_)}};
      out(old);
      return 1;
    }
    acc += o_.invalidRatio;
    if (r < acc) return invalid(ts);

    std::string id = memberId(pick(o_.members));
    auto it = live_.find(id);
    if (it == live_.end()) {
      json::object row = newRow(id);
      json::object line{{"key", keyOf(id)},
                        {"value", maybeWrap(envelope("c", nullptr, row, lsn_, ts))}};
      live_[id] = row;
      remember(changes_, line);
      out(line);
      return 1;
    }
    acc += o_.deleteRatio;
    if (r < acc) {
      json::object line{{"key", keyOf(id)},
                        {"value", maybeWrap(envelope("d", it->second, nullptr, lsn_, ts))}};
      live_.erase(it);
      remember(changes_, line);
      out(line);
      if (u() < o_.tombstoneRatio) {
        out(json::object{{"key", keyOf(id)}, {"value", nullptr}});
        return 2;
      }
      return 1;
    }
    json::object before = it->second;
    acc += o_.noopRatio;
    if (r >= acc) mutate(it->second);
    it->second["updated_at"] = ts;
    json::object line{{"key", keyOf(id)},
                      {"value", maybeWrap(envelope("u", before, it->second, lsn_, ts))}};
    remember(changes_, line);
    out(line);
    return 1;
  }

  int64_t invalid(int64_t ts) {
    std::string id = memberId(pick(o_.members));
    json::object row = newRow(id);
    json::object line{{"key", keyOf(id)}};
    switch (invalidKind_++ % 9) {
      case 0:
        line["value"] = "{\"op\": \"c\", \"after\": {\"member_id\": ";  // truncated JSON
        break;
      case 1:
        row["email"] = "not-an-email";
        line["value"] = envelope("c", nullptr, row, lsn_, ts);
        break;
      case 2:
        row["birth_date"] = 90000;  // 2216
        line["value"] = envelope("c", nullptr, row, lsn_, ts);
        break;
      case 3:
        row["gender"] = "Q";
        line["value"] = envelope("c", nullptr, row, lsn_, ts);
        break;
      case 4:
        row.erase("last_name");
        line["value"] = envelope("u", nullptr, row, lsn_, ts);
        break;
      case 5: line["value"] = json::array{1, 2, 3}; break;
      case 6: line["value"] = envelope("x", nullptr, row, lsn_, ts); break;
      case 7:
        row["postal_code"] = "5030";
        line["value"] = envelope("c", nullptr, row, lsn_, ts);
        break;
      default:
        line["key"] = keyOf(memberId(o_.members + 1));  // key names another member
        line["value"] = envelope("c", nullptr, row, lsn_, ts);
        break;
    }
    out(line);
    return 1;
  }

  const GeneratorOptions& o_;
  const std::function<void(std::string)>& emit_;
  std::mt19937_64 rng_;
  int64_t lsn_ = 1000;
  int invalidKind_ = 0;
  std::map<std::string, json::object> live_;
  std::vector<json::object> changes_;
  std::vector<std::string> history_;
};

}  // namespace

void generateRecords(const GeneratorOptions& opts, const std::function<void(std::string)>& emit) {
  Gen(opts, emit).run();
}

}  // namespace memberflow
