#include "unipet/core/text.h"

#include <algorithm>
#include <cctype>

namespace unipet {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool ends_with_ci(const std::string& path, const std::string& suffix) {
  if (path.size() < suffix.size()) return false;
  return lower(path.substr(path.size() - suffix.size())) == lower(suffix);
}

}  // namespace unipet
