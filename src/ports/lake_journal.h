// File: lake_journal.h
// LakeJournal: the lake stage's write-ahead record of which events go into which lake
// object. An object is staged (its content and event ids recorded atomically) before it is
// written, so after a crash the staged object is written again under the same key and the
// redelivered events are recognised as placed: each event lands in the lake exactly once.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace memberflow {

struct StagedObject {
  std::string key;
  std::string content;
};

// Thread-safe.
class LakeJournal {
 public:
  virtual ~LakeJournal() = default;
  // Reserves n consecutive lake sequence numbers and returns the first. The sequence only
  // grows, so object names built from it sort in the order the objects were staged, which
  // keeps each member's events in order across objects. Numbers reserved and not used are
  // simply skipped.
  virtual Result<int64_t> reserve(size_t n) = 0;
  // One flag per id: true when the event is already placed in a staged or written object.
  virtual Result<std::vector<bool>> placed(const std::vector<std::string>& eventIds) = 0;
  // One key per id: the object that holds the event, "" when none does (the console's
  // lineage). The default: FailedPrecondition (not supported).
  virtual Result<std::vector<std::string>> objectsOf(const std::vector<std::string>& eventIds) {
    (void)eventIds;
    return Status::failedPrecondition("this lake journal cannot name its objects");
  }
  // Records the object and the events it holds, atomically. AlreadyExists (nothing recorded)
  // when one of the ids is placed already.
  virtual Status stage(const StagedObject& object, const std::vector<std::string>& eventIds) = 0;
  // Staged objects not yet confirmed written, oldest first.
  virtual Result<std::vector<StagedObject>> staged() = 0;
  // Replaces the content of a staged object (not yet confirmed written), its events unchanged:
  // `memberflow erase` redacts events there too. NotFound: the object is not staged.
  virtual Status restage(const StagedObject& object) = 0;
  // The object is durable in the object store: its content is dropped. Idempotent.
  virtual Status written(const std::string& key) = 0;
};

}  // namespace memberflow
