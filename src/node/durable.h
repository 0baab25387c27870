#pragma once
// Internal to src/node: file operations that survive a crash (kill -9, power loss) at any point.
// Each one is either done and on disk when it returns, or leaves the previous state. (Whole
// files are replaced with core's write_file_atomically, which syncs the file and its folder.)
#include <filesystem>
#include <string>

namespace unipet::node::detail {

/// rename(2) of `from` to `to` (same file system), then fsync of both parent folders.
void rename_durably(const std::filesystem::path& from, const std::filesystem::path& to);

/// Appends `line` and a newline to `path` (created when missing) and fsyncs it.
void append_line_durably(const std::filesystem::path& path, const std::string& line);

/// The current UTC time as "2026-12-02T21:40:35.123Z".
std::string utc_now();

/// Seconds since the Unix epoch, with fractions.
double epoch_seconds();

/// epoch_seconds() as utc_now()'s text.
std::string utc_text(double epoch);

}  // namespace unipet::node::detail
