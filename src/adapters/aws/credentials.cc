#include "adapters/aws/credentials.h"

#include <cstdlib>
#include <fstream>
#include <pugixml.hpp>
#include <sstream>

#include "common/text.h"
#include "common/time.h"

namespace memberflow::aws {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

int64_t expiry(const std::string& iso) { return iso.empty() ? 0 : epochMsFromIso(iso).value_or(0); }

}  // namespace

Result<Credentials> ProfileCredentials::get() {
  std::string path = env("AWS_SHARED_CREDENTIALS_FILE");
  if (path.empty()) {
    std::string home = env("HOME");
    if (home.empty()) return Status::notFound("no shared credentials file");
    path = home + "/.aws/credentials";
  }
  std::ifstream in(path);
  if (!in) return Status::notFound("no shared credentials file");
  std::string profile = env("AWS_PROFILE").empty() ? "default" : env("AWS_PROFILE");
  std::string section, line;
  Credentials c;
  bool found = false;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    if (section != profile) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string k = trim(line.substr(0, eq)), v = trim(line.substr(eq + 1));
    if (k == "aws_access_key_id")
      c.accessKeyId = v, found = true;
    else if (k == "aws_secret_access_key")
      c.secretAccessKey = v;
    else if (k == "aws_session_token")
      c.sessionToken = v;
  }
  if (!found)
    return Status::notFound("profile " + profile + " is not in the shared credentials file");
  if (c.secretAccessKey.empty())
    return Status::invalidArgument("profile " + profile + " has no secret key");
  return c;
}

Result<Credentials> ContainerCredentials::get() {
  std::string uri = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if (uri.empty() && !env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").empty()) {
    uri = "http://169.254.170.2" + env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  }
  if (uri.empty()) return Status::notFound("not in a container with credentials");
  HttpRequest req{"GET", uri, {}, "", 5000};
  std::string token = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
  if (std::string file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); !file.empty()) {
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    token = trim(ss.str());
  }
  if (!token.empty()) req.headers.emplace_back("Authorization", token);
  HttpResult r = http_.send(req);
  if (!r.ok()) return Status::unavailable("container credentials endpoint: " + r.error);
  if (r.response.status != 200) {
    return Status::unavailable("container credentials endpoint: HTTP " +
                               std::to_string(r.response.status));
  }
  auto v = parseJson(r.response.body);
  if (!v.isOk() || !v->is_object()) return Status::unavailable("container credentials: not JSON");
  const auto& o = v->get_object();
  Credentials c{
      stringField(o, "AccessKeyId").value_or(""), stringField(o, "SecretAccessKey").value_or(""),
      stringField(o, "Token").value_or(""), expiry(stringField(o, "Expiration").value_or(""))};
  if (c.accessKeyId.empty() || c.secretAccessKey.empty())
    return Status::unavailable("container credentials: incomplete");
  return c;
}

Result<Credentials> WebIdentityCredentials::get() {
  std::string file = env("AWS_WEB_IDENTITY_TOKEN_FILE"), role = env("AWS_ROLE_ARN");
  if (file.empty() || role.empty()) return Status::notFound("no web identity configured");
  std::ifstream in(file);
  if (!in) return Status::unavailable("cannot read AWS_WEB_IDENTITY_TOKEN_FILE");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string session =
      env("AWS_ROLE_SESSION_NAME").empty() ? "memberflow" : env("AWS_ROLE_SESSION_NAME");
  HttpRequest req;
  req.method = "POST";
  req.url = endpoint_;
  req.timeoutMs = 10000;
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  req.body =
      "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + percentEncode(role, false) +
      "&RoleSessionName=" + percentEncode(session, false) +
      "&WebIdentityToken=" + percentEncode(trim(ss.str()), false);
  HttpResult r = http_.send(req);
  if (!r.ok()) return Status::unavailable("sts: " + r.error);
  if (r.response.status != 200)
    return Status::unavailable("sts AssumeRoleWithWebIdentity: HTTP " +
                               std::to_string(r.response.status));
  pugi::xml_document doc;
  if (!doc.load_string(r.response.body.c_str()))
    return Status::unavailable("sts: response is not XML");
  auto cr = doc.child("AssumeRoleWithWebIdentityResponse")
                .child("AssumeRoleWithWebIdentityResult")
                .child("Credentials");
  Credentials c{cr.child_value("AccessKeyId"), cr.child_value("SecretAccessKey"),
                cr.child_value("SessionToken"), expiry(cr.child_value("Expiration"))};
  if (c.accessKeyId.empty()) return Status::unavailable("sts: no credentials in the response");
  return c;
}

std::unique_ptr<CredentialsChain> CredentialsChain::standard(HttpClient& http,
                                                             const std::string& stsEndpoint,
                                                             const Clock& clock) {
  std::vector<std::unique_ptr<CredentialsProvider>> p;
  p.push_back(std::make_unique<EnvCredentials>());
  p.push_back(std::make_unique<ProfileCredentials>());
  p.push_back(std::make_unique<ContainerCredentials>(http));
  p.push_back(std::make_unique<WebIdentityCredentials>(http, stsEndpoint));
  return std::make_unique<CredentialsChain>(std::move(p), clock);
}

Result<Credentials> CredentialsChain::get() {
  std::lock_guard lock(mu_);
  int64_t now = clock_.nowMs();
  if (cached_ && (cached_->expiresAtMs == 0 || now < cached_->expiresAtMs - 5 * 60 * 1000))
    return *cached_;
  for (auto& p : providers_) {
    auto c = p->get();
    if (c.isOk()) {
      cached_ = *c;
      return c;
    }
    if (c.status().code() != Code::kNotFound) return c.status();  // configured, and failing
  }
  return Status::unavailable(
      "no AWS credentials: environment, shared file, container and web identity all absent");
}

}  // namespace memberflow::aws
