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

namespace {

std::string scoped(const std::string& text, const std::string& scope) {
  return scope.empty() ? text : text + " (" + scope + ")";
}

}  // namespace

void add_compute_options(CLI::App* cmd, ComputeOptions& compute, const ComputeHelp& help) {
  cmd->add_option("--device", compute.device, scoped("cpu, cuda, cuda:N or auto (CUDA when available)", help.scope))
      ->capture_default_str();
  cmd->add_option(help.precision_names, compute.precision, scoped(help.precisions, help.scope))->capture_default_str();
  add_threads_option(cmd, compute.threads, help.threads);
}

void add_threads_option(CLI::App* cmd, int& threads, const std::string& text) {
  cmd->add_option("--threads", threads, text.empty() ? "CPU threads (0: one per hardware thread)" : text)
      ->capture_default_str();
}

void add_tiling_options(CLI::App* cmd, infer::SlidingWindowOptions& window, const std::string& scope) {
  cmd->add_option("--tile", window.tile, scoped("Tile side in voxels", scope))->capture_default_str();
  cmd->add_option("--overlap", window.overlap, scoped("Fraction of a tile shared with its neighbours", scope))
      ->capture_default_str();
  cmd->add_option("--batch", window.batch, scoped("Tiles per network call", scope))->capture_default_str();
}

}  // namespace unipet::cli
