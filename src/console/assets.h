// File: assets.h
// The console's static assets, built into the binary (the generated console_assets.cc, from
// scripts/build-console's output): nothing is fetched at run time.
#pragma once

#include <string_view>

namespace memberflow::console {

struct ConsoleAsset {
  std::string_view name;  // e.g. "index.html", "app.js"
  std::string_view contentType;
  std::string_view data;
};

// nullptr when there is no such asset.
const ConsoleAsset* findConsoleAsset(std::string_view name);

}  // namespace memberflow::console
