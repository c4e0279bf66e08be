// File: crypto.h
// Hashing, MACs, encodings and randomness, all delegated to OpenSSL.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace memberflow::crypto {

std::string sha256(std::string_view data);  // raw 32 bytes
std::string hex(std::string_view bytes);    // lowercase
std::string sha256Hex(std::string_view data);
std::string hmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes

std::string base64Encode(std::string_view bytes);
std::optional<std::string> base64Decode(std::string_view text);
std::string base64UrlEncode(std::string_view bytes);  // no padding
std::optional<std::string> base64UrlDecode(std::string_view text);

// Cryptographically secure random bytes (OpenSSL). A random generator that fails is no error a
// caller could handle (no key, token or id made afterwards could be trusted): the process
// aborts with a message instead of returning a Status.
std::string randomBytes(size_t n);
std::string uuidV4();

// Constant-time comparison for MACs.
bool equalConstantTime(std::string_view a, std::string_view b);

}  // namespace memberflow::crypto
