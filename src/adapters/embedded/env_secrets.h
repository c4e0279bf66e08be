// File: env_secrets.h
// Embedded secrets: MEMBERFLOW_SECRET_<NAME> from the environment, else a file <dir>/<name>.
#pragma once

#include <string>

#include "ports/secrets.h"

namespace memberflow::embedded {

class EnvSecrets final : public Secrets {
 public:
  explicit EnvSecrets(std::string dir) : dir_(std::move(dir)) {}
  Result<std::string> get(const std::string& name) override;

 private:
  std::string dir_;
};

}  // namespace memberflow::embedded
