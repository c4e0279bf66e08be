// File: gzip.h
// gzip members via zlib, for the raw archive and the data lake.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace memberflow {

std::string gzipCompress(std::string_view data, int level = 6);
// Decompresses one or more concatenated gzip members; InvalidArgument when corrupt.
Result<std::string> gzipDecompress(std::string_view data);

}  // namespace memberflow
