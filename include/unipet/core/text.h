#pragma once
/// Small string helpers, one home for the whole library (file names, extensions, prefixes).
#include <string>

namespace unipet {

/// Lower-case copy of `text` (ASCII).
std::string lower(std::string text);

/// True when `text` starts with `prefix`.
bool starts_with(const std::string& text, const std::string& prefix);

/// True when `text` ends with `suffix`.
bool ends_with(const std::string& text, const std::string& suffix);

/// True when `path` ends with `suffix`, ignoring case.
bool ends_with_ci(const std::string& path, const std::string& suffix);

}  // namespace unipet
