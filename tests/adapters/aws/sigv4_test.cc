// The SigV4 signer against the AWS signing test suite (aws-c-auth's v4 cases in
// ../shared/corpora/aws-sigv4): canonical request, string to sign and signature, for header
// signing and for presigned query signing.
#include "adapters/aws/sigv4.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/json.h"
#include "common/time.h"
#include "support/test_support.h"

namespace memberflow::aws {
namespace {

namespace fs = std::filesystem;

using memberflow::testing::readFile;

// request.txt: request line, header lines (a line starting with white space continues the
// previous value), a blank line, the body.
SignableRequest parseRequest(const std::string& text) {
  SignableRequest r;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  auto sp1 = line.find(' ');
  auto sp2 = line.rfind(' ');
  r.method = line.substr(0, sp1);
  std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = target.substr(q + 1);
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;
    if ((line[0] == ' ' || line[0] == '\t') && !r.headers.empty()) {
      r.headers.back().second += " " + line;
      continue;
    }
    auto colon = line.find(':');
    r.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  std::ostringstream body;
  body << in.rdbuf();
  r.body = body.str();
  return r;
}

TEST(SigV4, PassesEveryV4CaseOfTheAwsSigningTestSuite) {
  std::string corpora = memberflow::testing::corporaDir();
  if (corpora.empty()) GTEST_SKIP() << "../shared/corpora is absent";
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(corpora + "/aws-sigv4/v4")) {
    if (!entry.is_directory()) continue;
    const fs::path dir = entry.path();
    SCOPED_TRACE(dir.filename().string());
    auto ctx = json::parse(readFile(dir / "context.json")).as_object();
    const auto& cr = ctx.at("credentials").as_object();
    Credentials c{std::string(cr.at("access_key_id").as_string()),
                  std::string(cr.at("secret_access_key").as_string()),
                  cr.contains("token") ? std::string(cr.at("token").as_string()) : ""};
    SigningOptions o;
    o.region = std::string(ctx.at("region").as_string());
    o.service = std::string(ctx.at("service").as_string());
    o.epochSeconds = *epochMsFromIso(ctx.at("timestamp").as_string()) / 1000;
    o.normalizePath = ctx.at("normalize").as_bool();
    o.signBody = ctx.at("sign_body").as_bool();
    o.omitSessionToken =
        ctx.contains("omit_session_token") && ctx.at("omit_session_token").as_bool();
    o.expiresSeconds = ctx.at("expiration_in_seconds").as_int64();
    SignableRequest r = parseRequest(readFile(dir / "request.txt"));

    Signature h = signHeaders(r, c, o);
    EXPECT_EQ(h.canonicalRequest, readFile(dir / "header-canonical-request.txt"));
    EXPECT_EQ(h.stringToSign, readFile(dir / "header-string-to-sign.txt"));
    EXPECT_EQ(h.signature, readFile(dir / "header-signature.txt"));

    Signature q = presignQuery(r, c, o);
    EXPECT_EQ(q.canonicalRequest, readFile(dir / "query-canonical-request.txt"));
    EXPECT_EQ(q.stringToSign, readFile(dir / "query-string-to-sign.txt"));
    EXPECT_EQ(q.signature, readFile(dir / "query-signature.txt"));
    ++cases;
  }
  EXPECT_EQ(cases, 38);
}

TEST(SigV4, AuthorizationHeaderNamesScopeAndSignedHeaders) {
  SignableRequest r{"GET", "/", "", {{"Host", "sqs.us-east-1.amazonaws.com"}}, ""};
  Signature s = signHeaders(r, {"AKID", "SECRET", "TOKEN"}, {"us-east-1", "sqs", 1440938160});
  std::map<std::string, std::string> h(s.headers.begin(), s.headers.end());
  EXPECT_EQ(h["X-Amz-Date"], "20150830T123600Z");
  EXPECT_EQ(h["X-Amz-Security-Token"], "TOKEN");
  EXPECT_EQ(h["Authorization"].rfind(
                "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sqs/aws4_request, "
                "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=",
                0),
            0u);
  EXPECT_EQ(h["Authorization"].find("SECRET"), std::string::npos);
}

}  // namespace
}  // namespace memberflow::aws
