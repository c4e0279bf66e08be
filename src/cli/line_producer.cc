#include "cli/line_producer.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "cli/produce_line.h"

namespace memberflow::cli {

Status LineProducer::add(std::string_view line) {
  ++lineNo_;
  if (line.empty()) return Status::ok();
  auto r = parseProduceLine(std::string(line));
  if (!r.isOk()) {
    MF_RETURN_IF_ERROR(flush());
    return Status::invalidArgument("line " + std::to_string(lineNo_) + ": " + r.status().message());
  }
  batch_.push_back(std::move(r).value());
  return batch_.size() >= 1000 ? flush() : Status::ok();
}

Status LineProducer::flush() {
  if (batch_.empty()) return Status::ok();
  MF_RETURN_IF_ERROR(sink_.append(batch_));
  produced_ += static_cast<int64_t>(batch_.size());
  batch_.clear();
  progress_.update(produced_);
  return Status::ok();
}

Status LineProducer::finish() {
  MF_RETURN_IF_ERROR(flush());
  progress_.update(produced_, true);
  return Status::ok();
}

Status produceFd(LineProducer& producer, int fd) {
  std::vector<char> buf(1 << 16);
  std::string pending;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::unavailable("read failed");
    if (n == 0) break;
    pending.append(buf.data(), static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      MF_RETURN_IF_ERROR(producer.add(std::string_view(pending).substr(start, nl - start)));
    }
    pending.erase(0, start);
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) == 0) MF_RETURN_IF_ERROR(producer.flush());  // input paused
  }
  if (!pending.empty()) MF_RETURN_IF_ERROR(producer.add(pending));
  return producer.finish();
}

}  // namespace memberflow::cli
