// File: gzip.h
// gzip members via zlib, for the raw archive and the data lake.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace memberflow {

// One gzip member. Internal when zlib fails (it can only run out of memory here).
Result<std::string> gzipCompress(std::string_view data, int level = 6);
// Decompresses one or more concatenated gzip members; InvalidArgument when corrupt.
Result<std::string> gzipDecompress(std::string_view data);

}  // namespace memberflow
