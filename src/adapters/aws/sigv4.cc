#include "adapters/aws/sigv4.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

#include "common/crypto.h"
#include "common/text.h"

namespace memberflow::aws {
namespace {

// Trims and folds runs of white space into one space.
std::string foldSpaces(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::string canonicalPath(const std::string& raw, bool normalize) {
  std::string path = raw.empty() ? "/" : raw;
  if (normalize) {
    std::vector<std::string> segs;
    size_t i = 0;
    while (i <= path.size()) {
      size_t j = path.find('/', i);
      if (j == std::string::npos) j = path.size();
      std::string seg = path.substr(i, j - i);
      if (seg == "..") {
        if (!segs.empty()) segs.pop_back();
      } else if (!seg.empty() && seg != ".") {
        segs.push_back(seg);
      }
      i = j + 1;
    }
    bool trailing = path.size() > 1 && path.back() == '/';
    std::string last = path.substr(path.find_last_of('/') + 1);
    if (last == "." || last == "..") trailing = !segs.empty();
    std::string out;
    for (const auto& s : segs) out += "/" + s;
    if (out.empty())
      out = "/";
    else if (trailing)
      out += "/";
    path = out;
  }
  // Each segment is decoded once and encoded with the AWS rules.
  return percentEncode(percentDecode(path), true);
}

std::string canonicalQuery(const std::string& raw,
                           const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t i = 0;
  while (i < raw.size()) {
    size_t j = raw.find('&', i);
    if (j == std::string::npos) j = raw.size();
    std::string kv = raw.substr(i, j - i);
    if (!kv.empty()) {
      size_t eq = kv.find('=');
      std::string k = eq == std::string::npos ? kv : kv.substr(0, eq);
      std::string v = eq == std::string::npos ? "" : kv.substr(eq + 1);
      params.emplace_back(percentEncode(percentDecode(k), false),
                          percentEncode(percentDecode(v), false));
    }
    i = j + 1;
  }
  for (const auto& [k, v] : extra)
    params.emplace_back(percentEncode(k, false), percentEncode(v, false));
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out.push_back('&');
    out += k + "=" + v;
  }
  return out;
}

std::string amzDate(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

struct Canonical {
  std::string request, signedHeaders;
};

Canonical canonicalRequest(const SignableRequest& r,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           const std::string& query, const std::string& payloadHash,
                           bool normalize) {
  std::map<std::string, std::string> h;  // sorted by lower-cased name; duplicates joined by ','
  for (const auto& [k, v] : headers) {
    std::string name = asciiLower(k);
    std::string value = foldSpaces(v);
    auto it = h.find(name);
    if (it == h.end())
      h.emplace(name, value);
    else
      it->second += "," + value;
  }
  Canonical c;
  c.request = r.method + "\n" + canonicalPath(r.path, normalize) + "\n" + query + "\n";
  for (const auto& [k, v] : h) {
    c.request += k + ":" + v + "\n";
    if (!c.signedHeaders.empty()) c.signedHeaders += ";";
    c.signedHeaders += k;
  }
  c.request += "\n" + c.signedHeaders + "\n" + payloadHash;
  return c;
}

std::string scopeOf(const SigningOptions& o, const std::string& date) {
  return date.substr(0, 8) + "/" + o.region + "/" + o.service + "/aws4_request";
}

std::string sign(const Credentials& c, const SigningOptions& o, const std::string& date,
                 const std::string& stringToSign) {
  std::string k = crypto::hmacSha256("AWS4" + c.secretAccessKey, date.substr(0, 8));
  k = crypto::hmacSha256(k, o.region);
  k = crypto::hmacSha256(k, o.service);
  k = crypto::hmacSha256(k, "aws4_request");
  return crypto::hex(crypto::hmacSha256(k, stringToSign));
}

std::string payloadHash(const SignableRequest& r, const SigningOptions& o) {
  return o.unsignedPayload ? "UNSIGNED-PAYLOAD" : crypto::sha256Hex(r.body);
}

}  // namespace

Signature signHeaders(const SignableRequest& r, const Credentials& c, const SigningOptions& o) {
  Signature s;
  std::string date = amzDate(o.epochSeconds);
  std::string hash = payloadHash(r, o);
  auto headers = r.headers;
  headers.emplace_back("X-Amz-Date", date);
  s.headers.emplace_back("X-Amz-Date", date);
  if (!c.sessionToken.empty() && !o.omitSessionToken) {
    headers.emplace_back("X-Amz-Security-Token", c.sessionToken);
  }
  if (o.signBody || o.unsignedPayload) {
    headers.emplace_back("X-Amz-Content-Sha256", hash);
    s.headers.emplace_back("X-Amz-Content-Sha256", hash);
  }
  Canonical can = canonicalRequest(r, headers, canonicalQuery(r.query, {}), hash, o.normalizePath);
  s.canonicalRequest = can.request;
  s.stringToSign =
      "AWS4-HMAC-SHA256\n" + date + "\n" + scopeOf(o, date) + "\n" + crypto::sha256Hex(can.request);
  s.signature = sign(c, o, date, s.stringToSign);
  if (!c.sessionToken.empty()) s.headers.emplace_back("X-Amz-Security-Token", c.sessionToken);
  s.headers.emplace_back("Authorization",
                         "AWS4-HMAC-SHA256 Credential=" + c.accessKeyId + "/" + scopeOf(o, date) +
                             ", SignedHeaders=" + can.signedHeaders + ", Signature=" + s.signature);
  return s;
}

Signature presignQuery(const SignableRequest& r, const Credentials& c, const SigningOptions& o) {
  Signature s;
  std::string date = amzDate(o.epochSeconds);
  std::string hash = payloadHash(r, o);
  std::string signedHeaders;
  {
    std::vector<std::string> names;
    for (const auto& [k, v] : r.headers) names.push_back(asciiLower(k));
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    for (const auto& n : names) signedHeaders += (signedHeaders.empty() ? "" : ";") + n;
  }
  std::vector<std::pair<std::string, std::string>> extra{
      {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
      {"X-Amz-Credential", c.accessKeyId + "/" + scopeOf(o, date)},
      {"X-Amz-Date", date},
      {"X-Amz-Expires", std::to_string(o.expiresSeconds)},
      {"X-Amz-SignedHeaders", signedHeaders}};
  if (!c.sessionToken.empty() && !o.omitSessionToken)
    extra.emplace_back("X-Amz-Security-Token", c.sessionToken);
  std::string query = canonicalQuery(r.query, extra);
  Canonical can = canonicalRequest(r, r.headers, query, hash, o.normalizePath);
  s.canonicalRequest = can.request;
  s.stringToSign =
      "AWS4-HMAC-SHA256\n" + date + "\n" + scopeOf(o, date) + "\n" + crypto::sha256Hex(can.request);
  s.signature = sign(c, o, date, s.stringToSign);
  s.query = query + "&X-Amz-Signature=" + s.signature;
  if (!c.sessionToken.empty() && o.omitSessionToken) {
    s.query += "&X-Amz-Security-Token=" + percentEncode(c.sessionToken, false);
  }
  return s;
}

}  // namespace memberflow::aws
