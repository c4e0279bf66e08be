#include "adapters/embedded/dir_object_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/crypto.h"

namespace memberflow::embedded {
namespace fs = std::filesystem;

Result<std::string> DirObjectStore::pathFor(const std::string& key) const {
  if (key.empty() || key.front() == '/' || key.find("..") != std::string::npos ||
      key.find('\0') != std::string::npos) {
    return Status::invalidArgument("object key is empty, absolute or climbs out of the store");
  }
  return root_ + "/" + key;
}

static Status ioError(const std::string& what) {
  return Status::unavailable(what + ": " + std::strerror(errno));
}

Status DirObjectStore::ensureWritable() {
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec || !fs::is_directory(root_, ec)) {
    return Status::unavailable("object store " + root_ + " is not a directory that can be created");
  }
  std::string probe = root_ + "/.write-probe-" + crypto::hex(crypto::randomBytes(6));
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return ioError("object store " + root_ + " is not writable");
  ::close(fd);
  ::unlink(probe.c_str());
  return Status::ok();
}

Status DirObjectStore::put(const std::string& key, const std::string& data, const PutOptions&) {
  auto path = pathFor(key);
  if (!path.isOk()) return path.status();
  fs::path p(*path);
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  if (ec) return Status::unavailable("create directories: " + ec.message());
  std::string tmp = *path + ".tmp-" + crypto::hex(crypto::randomBytes(6));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return ioError("open " + tmp);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      ::unlink(tmp.c_str());
      return ioError("write " + tmp);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return ioError("fsync " + tmp);
  }
  if (::rename(tmp.c_str(), path->c_str()) != 0) {
    ::unlink(tmp.c_str());
    return ioError("rename " + tmp);
  }
  int dfd = ::open(p.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::ok();
}

Result<std::string> DirObjectStore::get(const std::string& key) {
  auto path = pathFor(key);
  if (!path.isOk()) return path.status();
  std::ifstream in(*path, std::ios::binary);
  if (!in) {
    if (!fs::exists(*path)) return Status::notFound("no object " + key);
    return ioError("open " + *path);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::vector<std::string>> DirObjectStore::list(const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(root_, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(root_, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::string rel = fs::relative(it->path(), root_).generic_string();
    if (rel.find(".tmp-") != std::string::npos) continue;
    if (rel.compare(0, prefix.size(), prefix) == 0) out.push_back(std::move(rel));
  }
  if (ec) return Status::unavailable("list: " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace memberflow::embedded
