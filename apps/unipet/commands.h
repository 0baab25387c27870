#pragma once
// Each subcommand lives in cmd_<name>.cpp as an options struct, a setup_<name> that registers it
// with CLI11, and a run that only calls the library. main() registers them all and catches errors.
#include <string>

#include <CLI/CLI.hpp>

#include "unipet/core/compute.h"
#include "unipet/infer/sliding_window.h"

namespace unipet::cli {

void setup_demo(CLI::App& app);
void setup_speed(CLI::App& app);
void setup_simulate(CLI::App& app);
void setup_info(CLI::App& app);
/// `argv` is recorded in what the command writes (DICOM provenance, sidecars).
void setup_convert(CLI::App& app, int argc, char** argv);
void setup_import(CLI::App& app);
/// `argv` is what `train --nproc` starts its workers with.
void setup_train(CLI::App& app, int argc, char** argv);
/// `argv` is recorded in what the command writes (DICOM provenance, sidecars).
void setup_denoise(CLI::App& app, int argc, char** argv);
/// The command line as typed, for provenance records.
std::string command_line(int argc, char** argv);
/// `argv` is recorded in the report as the command that made it.
void setup_evaluate(CLI::App& app, int argc, char** argv);
void setup_calibrate(CLI::App& app);
void setup_estimate_drf(CLI::App& app);
/// `argv` is recorded in the derived series the node writes (DICOM provenance).
void setup_serve(CLI::App& app, int argc, char** argv);

/// The one rule of every --seed: an integer from 0 to 2^53 - 1 (a seed is recorded in JSON, whose
/// numbers are exact below 2^53). CLI11 alone reads "-1" into a uint64_t as 2^64 - 1.
const CLI::Validator& seed_check();

/// How a command words its compute options; the option texts themselves are written once.
struct ComputeHelp {
  std::string precision_names = "--precision";  ///< e.g. "--precision,--dtype" to keep an old spelling
  std::string precisions = "fp32, bf16, or fp16 (CUDA only)";
  std::string scope;    ///< appended to every text, e.g. "model methods"
  std::string threads;  ///< replaces the --threads text when a command shares threads differently
};

/// --device, --precision and --threads into `compute`, with one help text each (ComputeHelp).
void add_compute_options(CLI::App* cmd, ComputeOptions& compute, const ComputeHelp& help = {});

/// --threads alone (a command that runs no network: simulate).
void add_threads_option(CLI::App* cmd, int& threads, const std::string& text = "");

/// --tile, --overlap and --batch of the whole-volume sliding window.
void add_tiling_options(CLI::App* cmd, infer::SlidingWindowOptions& window, const std::string& scope = "");

}  // namespace unipet::cli
