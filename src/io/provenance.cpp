#include "unipet/io/provenance.h"

#include <filesystem>

#include "unipet/core/build_info.h"
#include "unipet/core/sha256.h"

namespace unipet::io {

Provenance model_provenance(const std::string& model_path, const std::string& command_line) {
  Provenance p;
  p.operation = "denoised";
  p.model_file = std::filesystem::path(model_path).filename().string();
  p.model_sha256 = sha256_file(model_path);
  p.command_line = command_line;
  p.derivation = {"113087", "DCM", "Smoothing"};
  return p;
}

std::string software_version() {
  const std::string commit = git_commit();
  if (commit == "unknown") return version();
  const bool dirty = commit.size() > 6 && commit.compare(commit.size() - 6, 6, "-dirty") == 0;
  return std::string(version()) + " (commit " + commit.substr(0, 12) + (dirty ? "-dirty" : "") + ")";
}

std::string describe(const Provenance& p) {
  std::string text = "unipet " + std::string(version()) + " " + p.operation;
  if (!p.model_file.empty()) text += " with model " + p.model_file;
  if (!p.model_sha256.empty()) text += " (sha256 " + p.model_sha256 + ")";
  return text;
}

}  // namespace unipet::io
