#pragma once
/// unipet's single error type and the check macro every public entry point uses.
///
///   UNIPET_CHECK(width > 0, "UniPETOptions: width must be positive, got " << width);
///
/// The library throws `unipet::Error` and never exits; the CLI catches it once, in `main`,
/// prints its one-line message and returns a non-zero exit code.
#include <sstream>
#include <stdexcept>
#include <string>

namespace unipet {

/// Any failure the library reports: bad input file, bad option, shape mismatch. `what()` is one
/// line that names the thing at fault (a file, a tensor, an option) and the problem.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace unipet

/// Throws unipet::Error with the streamed message when `cond` is false.
#define UNIPET_CHECK(cond, ...)                \
  do {                                         \
    if (!(cond)) {                             \
      std::ostringstream unipet_check_stream_; \
      unipet_check_stream_ << __VA_ARGS__;     \
      throw ::unipet::Error(unipet_check_stream_.str()); \
    }                                          \
  } while (0)

/// Throws unipet::Error with the streamed message.
#define UNIPET_FAIL(...) UNIPET_CHECK(false, __VA_ARGS__)
