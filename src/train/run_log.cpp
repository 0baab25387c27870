// What a run records: its log.jsonl lines and the provenance in its model files.
#include "run_log.h"

#include <cmath>
#include <iomanip>
#include <sstream>

#include "unipet/core/build_info.h"
#include "unipet/core/error.h"
#include "unipet/io/dataset.h"

namespace unipet::train::detail {

Log::Log(const std::filesystem::path& path) : path_(path.string()), out_(path, std::ios::app) {
  UNIPET_CHECK(out_, path_ << ": cannot open the training log");
}

void Log::write(const nlohmann::json& entry) {
  out_ << entry.dump() << "\n" << std::flush;
  UNIPET_CHECK(out_, path_ << ": write failed (disk full?)");
}

nlohmann::json scores_json(const ValidationScores& s) {
  nlohmann::json psnr = nlohmann::json::object(), ssim = nlohmann::json::object();
  for (const auto& [drf, v] : s.psnr) psnr[io::drf_text(drf)] = v;
  for (const auto& [drf, v] : s.ssim) ssim[io::drf_text(drf)] = v;
  return {{"psnr", psnr}, {"ssim", ssim}, {"psnr_mean", s.mean_psnr}, {"ssim_mean", s.mean_ssim}};
}

std::string scores_text(const ValidationScores& s, const ValidationScores& input) {
  std::ostringstream t;
  t << std::fixed << std::setprecision(2) << "PSNR " << s.mean_psnr << " dB (low dose " << input.mean_psnr
    << "), SSIM " << std::setprecision(4) << s.mean_ssim << std::setprecision(2) << " |";
  for (const auto& [drf, v] : s.psnr) t << " DRF " << io::drf_text(drf) << ": " << v;
  return t.str();
}

std::map<std::string, std::string> provenance(const TrainConfig& c, int64_t step, const Provenance& p) {
  std::map<std::string, std::string> m = {{"unipet.train.stage", to_string(c.stage)},
                                          {"unipet.train.step", std::to_string(step)},
                                          {"unipet.train.config", nlohmann::json::parse(to_json(c)).dump()},
                                          {"unipet.train.dataset", p.dataset},
                                          {"unipet.train.dataset_name", p.dataset_name},
                                          {"unipet.version", version()},
                                          {"unipet.git_commit", git_commit()}};
  if (!p.command.empty()) m["unipet.train.command"] = p.command;
  if (p.dataset_seed) {
    // dataset.json keeps seeds below 2^53, so an integral one is written as the integer it is.
    const double seed = *p.dataset_seed;
    const bool integral = seed >= 0 && seed < 9007199254740992.0 && seed == std::floor(seed);
    m["unipet.train.dataset_seed"] = integral ? std::to_string(static_cast<int64_t>(seed)) : nlohmann::json(seed).dump();
  }
  return m;
}

}  // namespace unipet::train::detail
