#pragma once
// Runs the real `unipet` binary for the CLI tests.
#include <string>

#include "io/io_test_util.h"
#include "test_paths.h"

namespace unipet::test {

/// `unipet <args>` with stdout and stderr merged.
inline CommandResult unipet_cli(const std::string& args) {
  return run_command(std::string("'") + UNIPET_CLI_PATH + "' " + args);
}

/// The single "unipet: error: ..." line of a failed run ("" when there is none).
inline std::string error_line(const CommandResult& r) {
  const auto at = r.output.find("unipet: error: ");
  if (at == std::string::npos) return "";
  return r.output.substr(at, r.output.find('\n', at) - at);
}

/// `path` in single quotes for the shell (paths in tests have no quotes in them).
inline std::string q(const std::string& path) { return "'" + path + "'"; }

}  // namespace unipet::test
