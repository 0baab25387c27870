#pragma once
// Internal to unipet_core (src/io, src/infer): small string helpers for file names and extensions.
#include <string>

namespace unipet::io::detail {

/// Lower-case copy of `text`.
std::string lower(std::string text);

/// True when `path` ends with `suffix`, ignoring case.
bool ends_with_ci(const std::string& path, const std::string& suffix);

}  // namespace unipet::io::detail
