#include "file_names.h"

#include <algorithm>
#include <cctype>

namespace unipet::io::detail {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool ends_with_ci(const std::string& path, const std::string& suffix) {
  if (path.size() < suffix.size()) return false;
  return lower(path.substr(path.size() - suffix.size())) == lower(suffix);
}

}  // namespace unipet::io::detail
