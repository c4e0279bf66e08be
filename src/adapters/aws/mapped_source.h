// File: mapped_source.h
// The ChangeSource of ingest when a Kafka event source mapping invokes it (DESIGN.md §9): the
// mapping polls the topic and commits the offsets of a batch once the invocation succeeded,
// so there is nothing to poll or commit here. Ingest's process() takes the event's records.
#pragma once

#include "ports/change_source.h"

namespace memberflow::aws {

class MappedSource final : public ChangeSource {
 public:
  Result<std::vector<SourceRecord>> poll(size_t, std::chrono::milliseconds) override {
    return std::vector<SourceRecord>{};
  }
  // The mapping commits after a successful invocation.
  Status commit(const std::map<int32_t, int64_t>&) override { return Status::ok(); }
  Status rewindToCommitted() override { return Status::ok(); }
  Result<Progress> progress() override {
    return Status::unavailable("the event source mapping holds the consumer's progress");
  }
};

}  // namespace memberflow::aws
