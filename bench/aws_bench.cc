// bench_aws: the AWS adapters' batch operations against an AWS endpoint (moto on loopback),
// and the CPU cost of signing.
//
//   bench_aws ENDPOINT [--seconds S] [--rounds R]
//
// Each operation runs for S seconds, R times; reported are the medians over the rounds of
// operations/s and of the per-operation p50 and p99 latency, and the ratio of operations/s to
// the baseline measured in the same run: SQS GetQueueAttributes, the smallest signed call, so
// the ratio says what an operation costs in round trips of this endpoint. Against moto the
// figures are relative (moto, single-threaded Python, is the bottleneck): they are for
// regressions, not capacity. CPU per request is this process's user+system CPU (signing,
// JSON, libcurl) divided by the requests it sent; moto's own CPU is not in it.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "adapters/aws/aws_client.h"
#include "adapters/aws/dynamodb_ledger.h"
#include "adapters/aws/eventbridge_bus.h"
#include "adapters/aws/s3_object_store.h"
#include "adapters/aws/sigv4.h"
#include "adapters/aws/sns_topic.h"
#include "adapters/aws/sqs_queue.h"
#include "adapters/http/curl_http_client.h"
#include "ports/clock.h"

namespace memberflow {
namespace {

struct StaticCredentials final : aws::CredentialsProvider {
  Result<aws::Credentials> get() override {
    return aws::Credentials{"AKIDBENCH", "bench-secret", ""};
  }
};

double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

struct Figures {
  double opsPerSec, p50Ms, p99Ms, cpuUsPerRequest;
};

// Runs `op` (which returns how many HTTP requests it made, or -1 on failure) for `seconds`.
Figures measure(const std::function<int()>& op, double seconds) {
  std::vector<double> lat;
  long requests = 0;
  double cpu0 = cpuSeconds();
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    auto t0 = std::chrono::steady_clock::now();
    int n = op();
    if (n < 0) {
      std::fprintf(stderr, "bench_aws: operation failed\n");
      std::exit(1);
    }
    requests += n;
    lat.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu = cpuSeconds() - cpu0;
  return {static_cast<double>(lat.size()) / wall, percentile(lat, 0.5), percentile(lat, 0.99),
          requests ? cpu / static_cast<double>(requests) * 1e6 : 0};
}

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r.isOk()) {
    std::fprintf(stderr, "bench_aws: %s: %s\n", what, r.status().toString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

void must(const Status& s, const char* what) {
  if (!s.isOk()) {
    std::fprintf(stderr, "bench_aws: %s: %s\n", what, s.toString().c_str());
    std::exit(1);
  }
}

}  // namespace
}  // namespace memberflow

int main(int argc, char** argv) {
  using namespace memberflow;
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_aws ENDPOINT [--seconds S] [--rounds R]\n");
    return 2;
  }
  std::string endpoint = argv[1];
  double seconds = 2;
  int rounds = 3;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
  }

  // 1. Signing alone: a SendMessageBatch-sized request (10 messages of ~1 KB).
  {
    aws::SignableRequest r;
    r.method = "POST";
    r.path = "/";
    r.headers = {{"host", "sqs.us-east-1.amazonaws.com"},
                 {"content-type", "application/x-amz-json-1.0"},
                 {"x-amz-target", "AmazonSQS.SendMessageBatch"}};
    r.body = std::string(10 * 1100, 'x');
    aws::Credentials c{"AKIDBENCH", "bench-secret", "session-token"};
    aws::SigningOptions o{"us-east-1", "sqs", 1767225600};
    std::vector<double> perSig;
    for (int round = 0; round < 5; ++round) {
      const int n = 20000;
      size_t sink = 0;
      double cpu0 = cpuSeconds();
      for (int i = 0; i < n; ++i) {
        o.epochSeconds = 1767225600 + i;
        sink += aws::signHeaders(r, c, o).signature.size();
      }
      perSig.push_back((cpuSeconds() - cpu0) / n * 1e6);
      if (sink == 0) return 1;
    }
    std::printf(
        "sigv4 sign (11 KB body, header signing): %.2f us CPU per signature (median of 5 x "
        "20000)\n",
        median(perSig));
  }

  // 2. The adapters against the endpoint.
  http::CurlHttpClient http;
  StaticCredentials creds;
  SystemClock clock;
  aws::AwsClient client{http, creds, clock,
                        aws::AwsConfig{"us-east-1", endpoint, 10000, {100, 2000, 4}, {}}};
  std::string tag = std::to_string(std::random_device{}() % 100000000);

  aws::S3ObjectStore s3{client, "memberflow-bench-" + tag};
  must(s3.ensureBucket(), "create bucket");
  std::string object(64 * 1024, 'o');
  must(s3.put("bench/get", object, {}), "put");
  for (int i = 0; i < 100; ++i) must(s3.put("bench/list/" + std::to_string(i), "x", {}), "put");
  auto sqs = must(aws::SqsQueue::open(client, "mf-bench-" + tag + ".fifo", true, {}), "queue");
  aws::SqsQueueOptions plainOpts;
  plainOpts.fifo = false;
  auto probe = must(aws::SqsQueue::open(client, "mf-bench-probe-" + tag, true, plainOpts), "queue");
  aws::DynamoDbLedger ledger{client, "mf-bench-" + tag, 3600000};
  must(ledger.ensureTable(), "table");
  auto sns = must(aws::SnsTopic::create(client, "mf-bench-" + tag + ".fifo"), "topic");
  auto sub = must(aws::SqsQueue::open(client, "mf-bench-sub-" + tag + ".fifo", true, {}), "queue");
  must(sns->subscribeQueue(must(sub->arn(), "arn")), "subscribe");
  aws::EventBridgeBus bus{client, "default"};

  std::string body(1000, 'b');
  long seq = 0;
  auto batch10 = [&] {
    std::vector<OutgoingMessage> ms;
    for (int i = 0; i < 10; ++i) {
      ++seq;
      ms.push_back(
          {"M" + std::to_string(seq % 50), "d" + std::to_string(seq), body, {{"stage", "bench"}}});
    }
    return ms;
  };
  struct Op {
    const char* name;
    std::function<int()> run;  // returns the HTTP requests it made, -1 on failure
  };
  std::vector<Op> ops = {
      {"baseline: sqs GetQueueAttributes", [&] { return probe->stats().isOk() ? 1 : -1; }},
      {"s3 put 64 KiB",
       [&] { return s3.put("bench/put/" + std::to_string(++seq), object, {}).isOk() ? 1 : -1; }},
      {"s3 get 64 KiB", [&] { return s3.get("bench/get").isOk() ? 1 : -1; }},
      {"s3 list 100 keys", [&] { return s3.list("bench/list/").isOk() ? 1 : -1; }},
      {"sqs send batch of 10", [&] { return sqs->send(batch10()).isOk() ? 1 : -1; }},
      {"sqs receive 10 + delete batch",
       [&] {
         if (!sqs->send(batch10()).isOk()) return -1;
         auto got = sqs->receive(10, 30000, 0);
         if (!got.isOk()) return -1;
         std::vector<std::string> rh;
         for (const auto& m : *got) rh.push_back(m.receiptHandle);
         return sqs->remove(rh).isOk() ? 3 : -1;
       }},
      {"dynamodb ledger claim+complete 10 ids",
       [&] {
         std::vector<std::string> ids;
         std::vector<LedgerOutcome> outs;
         for (int i = 0; i < 10; ++i) {
           ids.push_back("bench:" + std::to_string(++seq));
           outs.push_back({ids.back(), MessageOutcome::kEnqueued, "", "raw/x", i + 1});
         }
         int64_t now = clock.nowMs();
         if (!ledger.claim(ids, now).isOk() || !ledger.complete(outs, now).isOk()) return -1;
         return 20;  // one conditional PutItem and one UpdateItem per id
       }},
      {"sns publish batch of 10 (to 1 SQS sub)",
       [&] { return sns->publish(batch10()).isOk() ? 1 : -1; }},
      {"eventbridge put 10 entries",
       [&] {
         std::vector<BusEntry> es;
         for (int i = 0; i < 10; ++i) {
           ++seq;
           es.push_back({"e" + std::to_string(seq), "memberflow", "member.updated",
                         "{\"id\":\"x\"}", "2026-11-24T00:00:00Z", "M1"});
         }
         auto r = bus.put(es);
         return r.isOk() ? 1 : -1;
       }},
  };

  std::printf("\n%-42s %10s %9s %9s %9s %12s\n", "operation", "ops/s", "p50 ms", "p99 ms", "x base",
              "CPU us/req");
  double base = 0;
  for (const auto& op : ops) {
    std::vector<double> rate, p50, p99, cpu;
    for (int r = 0; r < rounds; ++r) {
      Figures f = measure(op.run, seconds);
      rate.push_back(f.opsPerSec);
      p50.push_back(f.p50Ms);
      p99.push_back(f.p99Ms);
      cpu.push_back(f.cpuUsPerRequest);
    }
    double m = median(rate);
    if (base == 0) base = m;
    std::printf("%-42s %10.1f %9.2f %9.2f %9.2f %12.1f\n", op.name, m, median(p50), median(p99),
                m / base, median(cpu));
  }
  std::printf(
      "(medians of %d rounds of %.1f s; \"x base\" = ops/s relative to the baseline in this run)\n",
      rounds, seconds);
  return 0;
}
