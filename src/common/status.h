// File: status.h
// One error style for the whole code base: Status and Result<T>. No exception crosses a port
// boundary; adapters map their library's errors into these codes where they enter, once.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace memberflow {

// The small set of codes the pipeline acts on.
enum class Code {
  kOk,
  kNotFound,            // the thing does not exist
  kAlreadyExists,       // duplicate: skip
  kInvalidArgument,     // bad input: DLQ, never retry
  kUnavailable,         // transient: retry with backoff
  kFailedPrecondition,  // stale or conflict
  kInternal,            // a bug or a corrupt store
};

const char* codeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  static Status notFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status alreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status invalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status failedPrecondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }
  static Status internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  // The same status with a stable reason code: the machine-readable cause of bad input
  // ("invalid_email", "malformed_json"), which dead letters, ledger entries and logs carry as a
  // field of their own. The message stays for humans.
  Status withReason(std::string reason) && {
    reason_ = std::move(reason);
    return std::move(*this);
  }

  bool isOk() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // Empty unless set with withReason.
  const std::string& reason() const { return reason_; }
  // "CODE: message", or "CODE: reason: message" when there is a reason.
  std::string toString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string reason_;
};

// A value or the Status that explains why there is none.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool isOk() const { return v_.index() == 0; }
  const T& value() const& { return std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  // By value: `for (x : *f())` then keeps the value alive for the loop instead of dangling.
  T operator*() && { return std::get<0>(std::move(v_)); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  Status status() const { return isOk() ? Status::ok() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

#define MF_RETURN_IF_ERROR(expr)         \
  do {                                   \
    ::memberflow::Status mf_s_ = (expr); \
    if (!mf_s_.isOk()) return mf_s_;     \
  } while (0)

#define MF_ASSIGN_OR_RETURN(lhs, expr)        \
  do {                                        \
    auto mf_r_ = (expr);                      \
    if (!mf_r_.isOk()) return mf_r_.status(); \
    lhs = std::move(mf_r_).value();           \
  } while (0)

}  // namespace memberflow
