// Option rules shared by several commands, so each is written once (commands.h).
#include <cstdint>
#include <string>

#include "commands.h"

namespace unipet::cli {

const CLI::Validator& seed_check() {
  static const CLI::Validator check(
      [](std::string& text) -> std::string {
        // Digits only: CLI11 would read "-1" into a uint64_t as 2^64 - 1.
        const bool digits = !text.empty() && text.size() <= 16 &&
                            text.find_first_not_of("0123456789") == std::string::npos;
        if (digits && std::stoull(text) < (uint64_t{1} << 53)) return "";
        return "must be an integer from 0 to 2^53 - 1, got '" + text + "'";
      },
      "0..2^53-1");
  return check;
}

}  // namespace unipet::cli
