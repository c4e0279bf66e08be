// File: secrets.h
// Secrets: named secret values (environment or file embedded; Secrets Manager in AWS).
#pragma once

#include <string>

#include "common/status.h"

namespace memberflow {

class Secrets {
 public:
  virtual ~Secrets() = default;
  // NotFound when no such secret. The value never reaches logs or error messages.
  virtual Result<std::string> get(const std::string& name) = 0;
};

}  // namespace memberflow
