// File: dir_object_store.h
// The embedded object store: a directory tree, one file per key, written atomically
// (temporary file, fsync, rename, fsync of the directory). putAll() does each step for all its
// objects before the next, so their fsyncs overlap their I/O (and on ext4 with a journal share
// its commits: the first fsync of a phase commits what the whole phase did).
#pragma once

#include <string>

#include "ports/object_store.h"

namespace memberflow::embedded {

class DirObjectStore final : public ObjectStore {
 public:
  explicit DirObjectStore(std::string root) : root_(std::move(root)) {}
  // Creates the root directory and checks that files can be written in it (the embedded
  // counterpart of S3ObjectStore::ensureBucket), so a process that will write objects fails at
  // start rather than at its first batch. Unavailable with the reason otherwise.
  Status ensureWritable();
  Status put(const std::string& key, const std::string& data, const PutOptions& opts) override;
  std::vector<Status> putAll(const std::vector<ObjectPut>& objects,
                             const PutOptions& opts) override;
  Result<std::string> get(const std::string& key) override;
  Result<std::vector<std::string>> list(const std::string& prefix) override;

 private:
  Result<std::string> pathFor(const std::string& key) const;
  // An object to put, by reference: put() and putAll() share the writer without a copy.
  struct Ref {
    const std::string* key;
    const std::string* data;
  };
  // put's and putAll's work, kOpenFiles objects at a time (that many files stay open).
  std::vector<Status> putRefs(const std::vector<Ref>& objects);
  void putRange(const std::vector<Ref>& objects, size_t begin, size_t end,
                std::vector<Status>& out);
  static constexpr size_t kOpenFiles = 64;
  std::string root_;
};

}  // namespace memberflow::embedded
