#pragma once
// Internal to src/eval: where `unipet evaluate` keeps a model method's predictions and how it knows
// which of them it may reuse. A prediction is cached at OUT/predictions/NAME/SUBJECT/drf_K.nii.gz:
// the key is the method's name, the subject's id and the DRF, never a path taken from the dataset
// (those may climb out of any folder with "../"), and every component is a safe file name.
#include <filesystem>
#include <map>
#include <string>

#include "unipet/infer/denoiser.h"

namespace unipet::eval::detail {

/// `text` as one file-name component: letters, digits, '.', '_' and '-' are kept, anything else
/// (a separator, a space, a ':') becomes '_'; a leading '.' (so never "." or "..") or an empty
/// text gets a leading '_'. A changed text also gets "-" and 8 hex digits of its own hash, so two
/// ids that differ only in the replaced characters still get two components.
std::string path_component(const std::string& text);

/// `root / relative`, checked to stay under `root` once "..", and symbolic links in the part that
/// exists, are resolved. Throws unipet::Error naming `field` and the path when it leaves `root`.
std::filesystem::path confined_path(const std::filesystem::path& root, const std::filesystem::path& relative,
                                    const std::string& field);

/// Where a method's prediction for a subject and DRF lies in its folder: SUBJECT/drf_K.nii.gz.
std::filesystem::path prediction_file_key(const std::string& subject, double drf);

/// The cache path of a prediction, relative to OUT/predictions: NAME/SUBJECT/drf_K.nii.gz.
std::filesystem::path prediction_cache_key(const std::string& method, const std::string& subject, double drf);

/// The SHA-256 of a model file as the network sees it: its tensors and metadata without the
/// calibration keys (model_calibration.h), so a recalibrated copy of a model hashes the same.
/// Throws unipet::Error naming the file when it is not a safetensors file.
std::string network_sha256(const std::string& model);

/// What a model method's predictions depend on: network_sha256 of the model file and every
/// setting that changes the output. A cache made by another network or with other settings is
/// stale; one made by the same network calibrated otherwise is not (the blend rows are computed
/// from the cached predictions at every run).
std::string prediction_stamp(const std::string& model, const infer::DenoiseOptions& options);

/// Which predictions in OUT/predictions/NAME/ this model file made with these settings: a ledger
/// (.unipet-cache.json) of the stamp and of the files made under it, each with the input it was
/// made from. A file the ledger does not list (made by a retrained model under the same name,
/// with other tile settings, from another input, by an older unipet with another layout, or not
/// by unipet at all) is made again over it: scoring it would report another model's numbers, and
/// deleting it could delete a user's file.
class PredictionLedger {
 public:
  PredictionLedger(std::filesystem::path folder, std::string stamp);
  /// True when `path` (inside the folder) exists and was made under this stamp from `input`.
  bool has(const std::filesystem::path& path, const std::string& input) const;
  /// Records `path` as made under this stamp from `input` (the ledger is rewritten atomically).
  void add(const std::filesystem::path& path, const std::string& input);

 private:
  std::string relative(const std::filesystem::path& path) const;
  std::filesystem::path folder_;
  std::string stamp_;
  std::map<std::string, std::string> files_;  ///< path relative to the folder -> input
};

}  // namespace unipet::eval::detail
