#include "cli/api_runner.h"

#include "api/member_cache.h"
#include "common/log.h"
#include "common/text.h"

namespace memberflow::cli {

// The verifier of bearer tokens: an external issuer's key set (auth.jwks_url / jwks_file), or
// the embedded issuer, which also serves /oauth2/token and /.well-known/jwks.json.
Status ApiRunner::openAuth(Wiring& w, api::ApiOptions& ao, const api::Authenticator** auth) {
  const Config& cfg = w.config();
  if (cfg.externalIssuer()) {
    api::JwtPolicy policy;
    auto algorithms = splitList(cfg.authAlgorithms);
    policy.algorithms = {algorithms.begin(), algorithms.end()};
    policy.issuer = cfg.authIssuer;
    policy.audience = cfg.authAudience;
    policy.audienceClaim = cfg.authAudienceClaim;
    policy.scopePrefix = cfg.authScopePrefix;
    policy.skewSeconds = cfg.authSkewSeconds;
    MF_RETURN_IF_ERROR(api::checkPolicy(policy));
    std::shared_ptr<api::KeySource> keys;
    if (!cfg.authJwksFile.empty()) {
      auto f = api::StaticKeySource::fromFile(cfg.authJwksFile);
      if (!f.isOk()) return f.status();
      keys = *f;
    } else {
      keys = std::make_shared<api::UrlKeySource>(w.http(), cfg.authJwksUrl, w.clock());
      // Fetched once now, so the first requests do not wait for it (a failure is logged and
      // retried on use: the API starts and answers 503 until the issuer is reachable).
      (void)keys->keys(false);
    }
    external_ = std::make_unique<api::JwtVerifier>(keys, policy, w.clock());
    *auth = external_.get();
    return Status::ok();
  }
  auto key = w.signingKey();
  if (!key.isOk()) return key.status();
  auto secret = w.clientSecret();
  if (!secret.isOk())
    return Status(secret.status().code(), "auth.client_secret: " + secret.status().message());
  tokenEndpoint_ = std::make_unique<api::TokenEndpoint>(
      *key, std::map<std::string, api::OAuthClient>{
                {cfg.authClientId, {*secret, {"member:read", "member:write"}}}});
  api::TokenEndpoint* te = tokenEndpoint_.get();
  ao.extraRoutes["/oauth2/token"] = [te](const api::ApiRequest& r) { return te->handle(r); };
  std::string jwks = (*key)->jwks();
  ao.extraRoutes["/.well-known/jwks.json"] = [jwks](const api::ApiRequest&) {
    return api::ApiResponse{
        200,
        {{"Content-Type", "application/json"}, {"Cache-Control", "public, max-age=300"}},
        jwks};
  };
  *auth = key->get();
  return Status::ok();
}

Status ApiRunner::open(Wiring& w) {
  MF_RETURN_IF_ERROR(w.openMembers());
  const Config& cfg = w.config();
  api::ApiOptions ao;
  ao.maxBodyBytes = static_cast<size_t>(cfg.apiMaxBodyBytes);
  auto openEndpoints = splitList(cfg.apiOpenEndpoints);
  ao.openEndpoints = {openEndpoints.begin(), openEndpoints.end()};
  ao.ratePerClient = static_cast<double>(cfg.apiRatePerClient);
  ao.rateBurst = static_cast<double>(cfg.apiRateBurst);
  auto proxies = splitList(cfg.apiTrustedProxies);
  ao.trustedProxies = {proxies.begin(), proxies.end()};
  auto exempt = splitList(cfg.apiRateExemptClients);
  ao.rateExempt = {exempt.begin(), exempt.end()};
  ao.failedAuthPerAddress = static_cast<double>(cfg.apiFailedAuthPerAddress);
  // GET /member/{id}/parking: whether sync holds the member's changes (issue 18). Read only:
  // the API never creates the table; without the store the resource answers 404.
  if (Status s = w.openParking(/*create=*/false); s.isOk()) {
    ao.parking = &w.parking();
  } else {
    log::warn("parking store unavailable: /member/{id}/parking answers 404",
              {"api", {}, {}, {}, "degraded", s.toString()});
  }
  if (cfg.apiCacheEntries > 0) {
    w.readCache() = std::make_unique<api::MemberCache>(static_cast<size_t>(cfg.apiCacheEntries));
    api::MemberCache* c = w.readCache().get();
    MF_RETURN_IF_ERROR(w.members().watchChanges([c](const std::string& id) { c->invalidate(id); },
                                                [c](bool live) { c->setFeed(live); }));
  }
  const api::Authenticator* auth = nullptr;
  MF_RETURN_IF_ERROR(openAuth(w, ao, &auth));
  tokens_ = std::make_unique<api::VerifiedTokenCache>(*auth, w.clock());
  handler_ =
      std::make_unique<api::MemberApi>(w.members(), *tokens_, w.clock(), ao, w.readCache().get());
  return Status::ok();
}

Status ApiRunner::start(Wiring& w) {
  MF_RETURN_IF_ERROR(open(w));
  const Config& cfg = w.config();
  api::ServerOptions so;
  so.address = cfg.apiListen;
  so.port = static_cast<uint16_t>(cfg.apiPort);
  so.threads = static_cast<int>(cfg.apiThreads);
  so.maxBodyBytes = static_cast<size_t>(cfg.apiMaxBodyBytes);
  so.maxHeaderBytes = static_cast<size_t>(cfg.apiMaxHeaderBytes);
  so.idleTimeoutSeconds = static_cast<int>(cfg.apiIdleTimeoutSeconds);
  so.tlsCertFile = cfg.apiTlsCert;
  so.tlsKeyFile = cfg.apiTlsKey;
  auto* h = handler_.get();
  server_ =
      std::make_unique<api::HttpServer>([h](const api::ApiRequest& r) { return h->handle(r); }, so);
  return server_->start();
}

}  // namespace memberflow::cli
