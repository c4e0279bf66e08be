#include "adapters/aws/secrets_manager.h"

namespace memberflow::aws {

Result<std::string> SecretsManager::get(const std::string& name) {
  int64_t now = clock_.nowMs();
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(name);
    if (it != cache_.end() && now - it->second.second < cacheMs_) return it->second.first;
  }
  auto r = client_.json("secretsmanager", "secretsmanager.GetSecretValue",
                        json::object{{"SecretId", name}}, "application/x-amz-json-1.1");
  if (!r.isOk()) {
    if (r.status().code() == Code::kNotFound) return Status::notFound("no secret named " + name);
    return Status(r.status().code(), "secrets manager: cannot read the secret " + name);
  }
  if (!r->is_object())
    return Status::internal("secrets manager GetSecretValue: malformed response");
  auto value = stringField(r->get_object(), "SecretString");
  if (!value) return Status::invalidArgument("secret " + name + " has no string value");
  std::lock_guard lock(mu_);
  cache_[name] = {*value, now};
  return *value;
}

Status SecretsManager::put(const std::string& name, const std::string& value) {
  auto r = client_.json("secretsmanager", "secretsmanager.CreateSecret",
                        json::object{{"Name", name}, {"SecretString", value}},
                        "application/x-amz-json-1.1");
  if (!r.isOk() && r.status().reason().find("ResourceExists") != std::string::npos) {
    r = client_.json("secretsmanager", "secretsmanager.PutSecretValue",
                     json::object{{"SecretId", name}, {"SecretString", value}},
                     "application/x-amz-json-1.1");
  }
  std::lock_guard lock(mu_);
  cache_.erase(name);
  return r.status();
}

}  // namespace memberflow::aws
