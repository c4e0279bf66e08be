#include "adapters/embedded/env_secrets.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace memberflow::embedded {

Result<std::string> EnvSecrets::get(const std::string& name) {
  std::string env = "MEMBERFLOW_SECRET_";
  for (char c : name) {
    env.push_back(std::isalnum(static_cast<unsigned char>(c))
                      ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                      : '_');
  }
  if (const char* v = std::getenv(env.c_str())) return std::string(v);
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return Status::invalidArgument("secret names are letters, digits, - _ and .");
    }
  }
  std::ifstream in(dir_ + "/" + name, std::ios::binary);
  if (!in) return Status::notFound("no secret named " + name);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace memberflow::embedded
