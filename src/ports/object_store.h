// File: object_store.h
// ObjectStore: put / get / list by key (S3, or a directory tree).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace memberflow {

struct PutOptions {
  std::string contentType = "application/octet-stream";
  std::string contentEncoding;          // e.g. "gzip"
  std::optional<std::string> kmsKeyId;  // server-side encryption with this KMS key (S3)
};

// One object of a putAll().
struct ObjectPut {
  std::string key;
  std::string data;
};

// Thread-safe.
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // Stores the bytes under key, replacing any object there, atomically: a reader sees the old
  // or the new object, never a part. Durable when it returns ok. Idempotent.
  virtual Status put(const std::string& key, const std::string& data, const PutOptions& opts) = 0;
  // Stores each object as put() would and returns one status per object, in order (none for
  // none). Each object succeeds or fails on its own: there is no atomicity across them, and a
  // key given twice ends with the later data. A store may write them together (a directory
  // tree makes them durable with a journal commit per phase, not two per file); the default
  // puts them one after another and stops at the first failure, the rest Unavailable, not
  // attempted (an outage costs one timeout, not one per object).
  [[nodiscard]] virtual std::vector<Status> putAll(const std::vector<ObjectPut>& objects,
                                                   const PutOptions& opts) {
    std::vector<Status> out;
    out.reserve(objects.size());
    for (const auto& o : objects) {
      if (!out.empty() && !out.back().isOk()) {
        out.push_back(Status::unavailable("not put: an earlier object of the same call failed"));
        continue;
      }
      out.push_back(put(o.key, o.data, opts));
    }
    return out;
  }
  // NotFound when there is no object under key.
  virtual Result<std::string> get(const std::string& key) = 0;
  // Keys that start with prefix, in lexicographic order.
  virtual Result<std::vector<std::string>> list(const std::string& prefix) = 0;
  // Deletes every version of the object under key except the current one (a versioned S3
  // bucket keeps the bytes a put replaced: `memberflow erase` must not leave them) and returns
  // how many it deleted. A store that keeps no old versions (a directory tree, an unversioned
  // bucket) returns 0. Idempotent.
  virtual Result<int64_t> purgeOldVersions(const std::string& key) {
    (void)key;
    return int64_t{0};
  }
};

}  // namespace memberflow
