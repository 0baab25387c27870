#include "prediction_cache.h"

#include <cctype>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"
#include "unipet/core/sha256.h"
#include "unipet/infer/model_calibration.h"
#include "unipet/io/dataset.h"
#include "unipet/io/safetensors.h"

namespace unipet::eval::detail {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kLedgerName = ".unipet-cache.json";

// True when `path` lies under `root` (both absolute and normalised), `root` itself excluded.
bool is_under(const fs::path& path, const fs::path& root) {
  const fs::path rel = path.lexically_relative(root);
  return !rel.empty() && rel != "." && *rel.begin() != "..";
}

}  // namespace

std::string path_component(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool safe = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    out += safe ? c : '_';
  }
  if (out.empty() || out.front() == '.') out = "_" + out;
  if (out == text) return out;
  // Hashed so that "a/b" and "a_b" (or "a b") stay two components.
  return out + "-" + sha256_hex(text).substr(0, 8);
}

fs::path confined_path(const fs::path& root, const fs::path& relative, const std::string& field) {
  const fs::path base = fs::absolute(root).lexically_normal();
  const fs::path path = (base / relative).lexically_normal();
  // Lexically first ("..", an absolute part), then with the symbolic links that exist resolved.
  UNIPET_CHECK(!relative.is_absolute() && is_under(path, base) &&
                   is_under(fs::weakly_canonical(path), fs::weakly_canonical(base)),
               field << ": " << path.string() << " would lie outside " << root.string());
  return path;
}

fs::path prediction_file_key(const std::string& subject, double drf) {
  return fs::path(path_component(subject)) / ("drf_" + path_component(io::drf_text(drf)) + ".nii.gz");
}

fs::path prediction_cache_key(const std::string& method, const std::string& subject, double drf) {
  return path_component(method) / prediction_file_key(subject, drf);
}

std::string network_sha256(const std::string& model) {
  io::SafetensorsFile file = io::read_safetensors(model);
  // The calibration changes the blend rows, made from these predictions, never the network's output.
  for (const char* key : {infer::kDrfEstimatorKey, infer::kBlendKey, infer::kTrainedDrfsKey}) file.metadata.erase(key);
  return sha256_hex(io::serialize_safetensors(file));
}

std::string prediction_stamp(const std::string& model, const infer::DenoiseOptions& o) {
  std::ostringstream stamp;
  stamp << "network sha256 " << network_sha256(model) << "\nprecision " << o.compute.precision << "\ntile "
        << o.window.tile << "\noverlap " << o.window.overlap << "\nsigma_scale " << o.window.sigma_scale
        << "\nbackground " << o.window.background << "\ntta " << o.window.tta << "\n";
  return stamp.str();
}

PredictionLedger::PredictionLedger(fs::path folder, std::string stamp)
    : folder_(std::move(folder)), stamp_(std::move(stamp)) {
  std::ifstream in(folder_ / kLedgerName);
  if (!in) return;
  const json ledger = json::parse(in, nullptr, /*allow_exceptions=*/false);
  // A ledger of another stamp, or of the older layout (a list of paths), is not ours to trust.
  if (!ledger.is_object() || ledger.value("stamp", "") != stamp_ || !ledger.contains("files") ||
      !ledger["files"].is_object())
    return;
  for (const auto& [path, input] : ledger["files"].items())
    if (input.is_string()) files_[path] = input.get<std::string>();
}

bool PredictionLedger::has(const fs::path& path, const std::string& input) const {
  const auto it = files_.find(relative(path));
  return it != files_.end() && it->second == input && fs::exists(path);
}

void PredictionLedger::add(const fs::path& path, const std::string& input) {
  files_[relative(path)] = input;
  fs::create_directories(folder_);
  write_file_atomically((folder_ / kLedgerName).string(),
                        json{{"stamp", stamp_}, {"files", files_}}.dump(1) + "\n");
}

std::string PredictionLedger::relative(const fs::path& path) const {
  return path.lexically_normal()
      .lexically_relative(fs::absolute(folder_).lexically_normal())
      .generic_string();
}

}  // namespace unipet::eval::detail
