#pragma once
// Internal to src/node: file operations that survive a crash (kill -9, power loss) at any point.
// Each one is either done and on disk when it returns, or leaves the previous state.
#include <filesystem>
#include <string>

namespace unipet::node::detail {

/// fsync of a file or folder. Throws unipet::Error naming it.
void fsync_path(const std::filesystem::path& path);

/// rename(2) of `from` to `to` (same file system), then fsync of both parent folders.
void rename_durably(const std::filesystem::path& from, const std::filesystem::path& to);

/// Replaces `path` with `text`: a temporary file beside it, fsync, rename, fsync of the folder.
void write_text_durably(const std::filesystem::path& path, const std::string& text);

/// Appends `line` and a newline to `path` (created when missing) and fsyncs it.
void append_line_durably(const std::filesystem::path& path, const std::string& line);

/// The current UTC time as "2026-12-02T21:40:35.123Z".
std::string utc_now();

/// Seconds since the Unix epoch, with fractions.
double epoch_seconds();

/// epoch_seconds() as utc_now()'s text.
std::string utc_text(double epoch);

}  // namespace unipet::node::detail
