#pragma once
// What a run records (run_log.cpp): log.jsonl, the validation lines, and the provenance every
// model file carries. Internal to src/train (trainer.cpp).
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "steps.h"
#include "unipet/train/config.h"

namespace unipet::train::detail {

/// log.jsonl, appended a line at a time; a failed write (a full disk) is an error naming it.
class Log {
 public:
  explicit Log(const std::filesystem::path& path);
  void write(const nlohmann::json& entry);

 private:
  std::string path_;
  std::ofstream out_;
};

/// PSNR and SSIM per DRF and their means, as a validation line holds them.
nlohmann::json scores_json(const ValidationScores& s);

/// "PSNR 38.12 dB (low dose 35.40), SSIM 0.9512 | DRF 4: 40.01 ...", for the progress line.
std::string scores_text(const ValidationScores& s, const ValidationScores& input);

/// What a model file records of its making, so that it can be reproduced: the configuration, the
/// command, the data (its seed regenerates a simulated dataset) and the code.
struct Provenance {
  std::string command, dataset, dataset_name;
  std::optional<double> dataset_seed;
};

/// The model file's metadata for a run of `c` at `step`.
std::map<std::string, std::string> provenance(const TrainConfig& c, int64_t step, const Provenance& p);

}  // namespace unipet::train::detail
