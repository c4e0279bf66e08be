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
  std::map<std::string, api::OAuthClient> clients{
      {cfg.authClientId, {*secret, {"member:read", "member:write"}}}};
  // The console's operator: member:operate only (docs/console.md).
  // Without its secret (not created in Secrets Manager) the API serves all the same, and the
  // console takes a token pasted in.
  if (cfg.consoleEnabled) {
    auto op = w.operatorSecret();
    if (op.isOk()) {
      clients[cfg.authOperatorClientId] = {*op, {console::kOperateScope}};
    } else {
      log::warn("console login disabled: auth.operator_client_secret cannot be read",
                {"api", {}, {}, {}, "degraded", op.status().toString()});
    }
  }
  tokenEndpoint_ = std::make_unique<api::TokenEndpoint>(*key, std::move(clients));
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

Status ApiRunner::open(Wiring& w, bool withConsole) {
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
  if (withConsole && cfg.consoleEnabled) {
    MF_RETURN_IF_ERROR(w.openAudit());
    consolePorts_ = std::make_unique<WiringOperatorPorts>(cfg);
    consolePorts_->setCreateParking(false);  // the API's role only reads it
    redrivePorts_ = std::make_unique<WiringOperatorPorts>(cfg);
    redrivePorts_->setCreateParking(false);
    console::ConsoleOptions co;
    co.mode = cfg.queueAdapter == QueueAdapter::kEmbedded ? "embedded" : "distributed";
    co.sampleMs = cfg.consoleSampleMs;
    console_ = std::make_unique<console::ConsoleApi>(*consolePorts_, *redrivePorts_, w.audit(), co);
    ao.consoleAssets = [](const std::string& path) { return console::ConsoleApi::asset(path); };
    console::ConsoleApi* c = console_.get();
    ao.consoleApi = [c](const api::ApiRequest& r, const std::string& path,
                        const std::map<std::string, std::string>& query,
                        const api::Claims& claims) { return c->handle(r, path, query, claims); };
  }
  const api::Authenticator* auth = nullptr;
  MF_RETURN_IF_ERROR(openAuth(w, ao, &auth));
  tokens_ = std::make_unique<api::VerifiedTokenCache>(*auth, w.clock());
  handler_ =
      std::make_unique<api::MemberApi>(w.members(), *tokens_, w.clock(), ao, w.readCache().get());
  return Status::ok();
}

Status ApiRunner::start(Wiring& w) {
  MF_RETURN_IF_ERROR(open(w, /*withConsole=*/true));
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
  MF_RETURN_IF_ERROR(server_->start());
  if (console_) console_->start();
  return Status::ok();
}

}  // namespace memberflow::cli
