#include "adapters/aws/event_batch_queue.h"

namespace memberflow::aws {

std::vector<std::string> EventBatchQueue::failures(bool fifo) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& m : batch_) {
    if (!out.empty() && fifo) {
      out.push_back(m.messageId);
    } else if (!removed_.count(m.receiptHandle)) {
      out.push_back(m.messageId);
    }
  }
  return out;
}

Status EventBatchQueue::remove(const std::vector<std::string>& receiptHandles) {
  std::lock_guard lock(mu_);
  removed_.insert(receiptHandles.begin(), receiptHandles.end());
  return Status::ok();
}

Status EventBatchQueue::changeVisibility(const std::string& receiptHandle, int64_t visibilityMs) {
  (void)real_.changeVisibility(receiptHandle, visibilityMs);
  return Status::ok();
}

}  // namespace memberflow::aws
