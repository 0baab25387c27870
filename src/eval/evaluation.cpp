#include "unipet/eval/evaluation.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "evaluation_data.h"
#include "lesion_scores.h"
#include "prediction_cache.h"
#include "region_mask.h"
#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"
#include "unipet/core/progress.h"
#include "unipet/core/body_mask.h"
#include "unipet/core/text.h"
#include "unipet/eval/gaussian_baseline.h"
#include "unipet/eval/lesions.h"
#include "unipet/eval/metrics.h"
#include "unipet/infer/blend.h"
#include "unipet/infer/model_calibration.h"
#include "unipet/infer/studies.h"
#include "unipet/io/image_io.h"

namespace unipet::eval {

namespace fs = std::filesystem;
using detail::EvaluationData;
using detail::LesionRegion;
using detail::lesion_regions;
using detail::score_lesions;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Method parse_method(const std::string& spec) {
  const auto eq = spec.find('=');
  UNIPET_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < spec.size(),
               "--method '" << spec << "': expected NAME=MODEL_FILE or NAME=PREDICTIONS_FOLDER");
  Method m;
  m.name = spec.substr(0, eq);
  m.path = spec.substr(eq + 1);
  for (char c : m.name)
    UNIPET_CHECK(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-',
                 "--method '" << spec << "': a name may hold letters, digits, '.', '_' and '-' only");
  // The name is a folder under OUT/predictions: "." or ".." would be OUT/predictions or OUT itself.
  UNIPET_CHECK(m.name.front() != '.', "--method '" << spec << "': a name may not start with '.'");
  UNIPET_CHECK(m.name != "lowdose" && m.name != "gaussian", "--method '" << spec << "': " << m.name
                                                                          << " is a baseline's name");
  UNIPET_CHECK(fs::exists(m.path), "--method '" << spec << "': " << m.path << " does not exist");
  m.kind = fs::is_directory(m.path) ? Method::Kind::Folder : Method::Kind::Model;
  return m;
}

namespace detail {

std::vector<Method> all_methods(const EvaluationOptions& options) {
  std::vector<Method> methods;
  for (const Method& m : options.methods) {
    methods.push_back(m);
    if (m.kind != Method::Kind::Model || !options.blend_rows) continue;
    auto calibration = infer::read_calibration(m.path);
    // '+' is not allowed in a user's method name, so this row's name cannot collide with one.
    if (calibration.blend) methods.push_back({m.name + "+blend", m.path, Method::Kind::Blend, m.name, calibration});
  }
  for (const std::string& b : options.baselines) {
    UNIPET_CHECK(b == "lowdose" || b == "gaussian", "--baseline must be lowdose or gaussian, got '" << b << "'");
    methods.push_back({b, "", b == "lowdose" ? Method::Kind::LowDose : Method::Kind::Gaussian, "", std::nullopt});
  }
  return methods;
}

std::string EvaluationData::prediction_path(const Method& method, const io::DatasetSubject& subject, double drf) const {
  if (method.kind == Method::Kind::Folder) {
    // The dataset's relative path, unless it climbs out of the folder ("../", as `unipet import
    // pairs` writes): then the cache's layout, FOLDER/SUBJECT/drf_K.nii.gz.
    const fs::path folder = fs::absolute(method.path).lexically_normal();
    const fs::path at = (folder / subject.low_dose.at(drf)).lexically_normal();
    const fs::path rel = at.lexically_relative(folder);
    if (!rel.empty() && *rel.begin() != "..") return at.string();
    return (folder / prediction_file_key(subject.id, drf)).string();
  }
  // Keyed by method, subject and DRF, never by the dataset's paths, and kept under OUT.
  return confined_path(fs::path(options.out) / "predictions", prediction_cache_key(method.name, subject.id, drf),
                       "--method " + method.name + ", subject " + subject.id + ", DRF " + drf_text(drf) +
                           ": the prediction")
      .string();
}

Volume EvaluationData::read_suv(const std::string& path, const io::DatasetSubject& subject, const Volume* like) const {
  Volume v = io::read_image(path);
  if (like) {
    UNIPET_CHECK(same_geometry(v, *like, 1e-2),
                 path << " and " << dataset.resolve(subject.full_dose)
                      << ": different geometry (size, spacing, origin or direction); a prediction must match its "
                         "full-dose image");
  }
  // Images that record SUV stay; Bq/ml or unrecorded units are the dataset's.
  if (v.units != Units::SUV) v.data = v.data * io::subject_suv_factor(dataset, subject);
  v.units = Units::SUV;
  return v;
}

Volume EvaluationData::full_dose(const io::DatasetSubject& subject) const {
  return read_suv(dataset.resolve(subject.full_dose), subject, nullptr);
}

Volume EvaluationData::low_dose(const io::DatasetSubject& subject, double drf, const Volume& full) const {
  return read_suv(dataset.resolve(subject.low_dose.at(drf)), subject, &full);
}

Volume EvaluationData::prediction(const Method& method, const io::DatasetSubject& subject, double drf,
                                  const Volume& full, const Volume& low) const {
  switch (method.kind) {
    case Method::Kind::LowDose:
      return low;
    case Method::Kind::Gaussian:
      return gaussian_filter(low, gaussian_fwhm_mm.at(drf));
    case Method::Kind::Blend: {
      const Method base{method.base, method.path, Method::Kind::Model, "", std::nullopt};
      Volume out = prediction(base, subject, drf, full, low);
      // The noise level is measured on the low-dose image as `unipet denoise` measures it on its input.
      const auto noise = method.calibration->estimator->estimate(low, dataset.resolve(subject.low_dose.at(drf)));
      out.data = method.calibration->blend->apply(low.data, out.data, noise.log2_drf);
      return out;
    }
    default: {
      const std::string path = prediction_path(method, subject, drf);
      UNIPET_CHECK(fs::exists(path), path << ": missing prediction of " << method.name << " for subject "
                                          << subject.id << " at DRF " << drf);
      return read_suv(path, subject, &full);
    }
  }
}

}  // namespace detail

namespace {

std::string drf_list(const std::vector<double>& drfs) {
  std::string out;
  for (double drf : drfs) out += (out.empty() ? "" : ", ") + detail::drf_text(drf);
  return out;
}

// What the options alone can tell, before the dataset is read: a method name is a row of the
// report and a folder of the cache, so two methods (or a method and a baseline) never share one,
// nor two names that differ only in case (one folder on a case-insensitive file system).
void check_options(const EvaluationOptions& options) {
  UNIPET_CHECK(!options.out.empty(), "--out is required");
  UNIPET_CHECK(options.data_range > 0 && std::isfinite(options.data_range),
               "--range must be positive, got " << options.data_range);
  std::map<std::string, std::string> seen;  // lower-case name -> as given
  for (const Method& m : options.methods) {
    UNIPET_CHECK(!m.name.empty(), "--method " << m.path << ": the method has no name");
    const auto [it, added] = seen.emplace(lower(m.name), m.name);
    UNIPET_CHECK(added, "--method " << m.name << " is given twice" << (it->second == m.name ? "" : " (as " + it->second + ")")
                                    << ": each --method needs a name of its own, which names its row and its "
                                       "predictions folder");
  }
  for (const std::string& b : options.baselines) {
    UNIPET_CHECK(b == "lowdose" || b == "gaussian", "--baseline must be lowdose or gaussian, got '" << b << "'");
    UNIPET_CHECK(seen.emplace(b, b).second, "--baseline " << b << " is given twice, or is also a --method's name");
  }
  for (double drf : options.trained_drfs)
    UNIPET_CHECK(std::isfinite(drf) && drf > 1, "--trained-drfs: each DRF must be > 1, got " << drf);
  for (size_t i = 0; i < options.drfs.size(); ++i)
    UNIPET_CHECK(std::find(options.drfs.begin(), options.drfs.begin() + i, options.drfs[i]) == options.drfs.begin() + i,
                 "--drf " << detail::drf_text(options.drfs[i]) << " is given twice");
  UNIPET_CHECK(options.show_drf == 0 || (std::isfinite(options.show_drf) && options.show_drf > 1),
               "--show-drf must be a DRF > 1, got " << options.show_drf);
}

// What needs the dataset: the pictures must be of evaluated subjects at an evaluated DRF, whose
// predictions the run makes; found out after the predictions, the run would have been for nothing.
void check_pictures(const EvaluationOptions& options, const EvaluationResult& result) {
  for (const std::string& id : options.show)
    UNIPET_CHECK(std::find(result.subjects.begin(), result.subjects.end(), id) != result.subjects.end(),
                 "--show " << id << ": no such subject in split '" << options.split << "' of " << options.dataset);
  UNIPET_CHECK(options.show_drf == 0 ||
                   std::find(result.drfs.begin(), result.drfs.end(), options.show_drf) != result.drfs.end(),
               "--show-drf " << detail::drf_text(options.show_drf) << ": not an evaluated DRF ("
                             << drf_list(result.drfs) << ")");
}

// Every prediction the run will write lies under OUT/predictions, each at a path of its own
// (two DRFs that print alike, "4" and "4.0000001", would share one).
void check_prediction_paths(const EvaluationData& data, const std::vector<Method>& methods,
                            const std::vector<const io::DatasetSubject*>& subjects, const std::vector<double>& drfs) {
  std::map<std::string, std::string> owner;  // path -> what it holds
  for (const Method& m : methods) {
    if (m.kind != Method::Kind::Model) continue;
    for (const auto* s : subjects)
      for (double drf : drfs) {
        const std::string what = "--method " + m.name + ", subject " + s->id + ", DRF " + detail::drf_text(drf);
        const auto [it, added] = owner.emplace(data.prediction_path(m, *s, drf), what);
        UNIPET_CHECK(added, what << ": its prediction " << it->first << " would be the one of " << it->second);
      }
  }
}

// The body outline of a full-dose image, the region of every score, with the full dose checked
// as a reference first, so a blank or tiny image is one line naming its file.
torch::Tensor checked_body_mask(const Volume& full, const std::string& path) {
  check_scorable(full.data, path, torch::Tensor(), path);
  UNIPET_CHECK(full.data.mean().item<double>() > 0, path << ": the mean is not positive, so no body outline can be found");
  const torch::Tensor body = body_mask(full.data);
  check_scorable(full.data, path, body, "the body outline of " + path);
  return body;
}

// Model predictions that are not cached yet.
void make_missing_predictions(const EvaluationData& data, const std::vector<Method>& methods,
                              const std::vector<const io::DatasetSubject*>& subjects, EvaluationResult& result,
                              std::ostream& log) {
  const auto denoise_start = std::chrono::steady_clock::now();
  const EvaluationOptions& options = data.options;
  // The cache holds the network's own output; a calibrated model's blend is its own row.
  infer::DenoiseOptions network_only = options.denoise;
  network_only.blend = false;
  for (const Method& m : methods) {
    if (m.kind != Method::Kind::Model) continue;
    const infer::Denoiser denoiser(m.path, network_only);
    const fs::path folder = detail::confined_path(fs::path(options.out) / "predictions", detail::path_component(m.name),
                                                  "--method " + m.name + ": the predictions folder");
    detail::PredictionLedger ledger(folder, detail::prediction_stamp(m.path, options.denoise));
    Progress progress(log, "evaluate: " + m.name, static_cast<int64_t>(subjects.size() * result.drfs.size()));
    int64_t done = 0, remade = 0;
    for (const auto* s : subjects) {
      for (double drf : result.drfs) {
        const std::string out = data.prediction_path(m, *s, drf);
        const std::string input = data.dataset.resolve(s->low_dose.at(drf));
        if (ledger.has(out, input)) {
          ++result.predictions_cached;
        } else {
          if (fs::exists(out)) ++remade;
          fs::create_directories(fs::path(out).parent_path());
          infer::StudyOptions study;
          // A factor only where units change: denoise refuses one for an image already in the
          // model's units.
          if (data.dataset.units == Units::SUV) study.input_units = "suv";
          if (data.dataset.units != denoiser.normalization().units)
            study.suv_factor = io::subject_suv_factor(data.dataset, *s);
          infer::denoise_study(denoiser, input, out, study);
          ledger.add(out, input);
          ++result.predictions_run;
        }
        progress.update(++done, s->id + " DRF " + detail::drf_text(drf));
      }
    }
    progress.finish();
    if (remade)
      log << "evaluate: " << m.name << ": made " << remade << " prediction(s) again: the ones in "
          << folder.string()
          << " were not made by this model file with these settings\n";
  }
  result.denoise_seconds = seconds_since(denoise_start);
}

// The Gaussian baseline's FWHM per DRF, tuned on the validation split (train if it has none).
void tune_gaussian_baseline(EvaluationData& data, const std::vector<const io::DatasetSubject*>& subjects,
                            EvaluationResult& result, std::ostream& log) {
  auto tuning = data.dataset.subjects_in_split("val");
  result.gaussian_split = "val";
  if (tuning.empty()) tuning = data.dataset.subjects_in_split("train"), result.gaussian_split = "train";
  if (tuning.empty()) tuning = subjects, result.gaussian_split = data.options.split;
  for (double drf : result.drfs) {
    std::vector<std::pair<Volume, Volume>> pairs;
    std::vector<torch::Tensor> masks;
    for (const auto* s : tuning) {
      if (!s->low_dose.count(drf)) continue;
      Volume full = data.full_dose(*s);
      masks.push_back(checked_body_mask(full, data.dataset.resolve(s->full_dose)));
      pairs.emplace_back(data.low_dose(*s, drf, full), std::move(full));
    }
    const auto search = best_gaussian_fwhm(pairs, data.options.data_range, 15.0, masks);
    data.gaussian_fwhm_mm[drf] = result.gaussian_fwhm_mm[drf] = search.best_fwhm_mm;
    std::ostringstream line;
    line << std::fixed << std::setprecision(2) << "gaussian baseline, DRF " << detail::drf_text(drf) << ": FWHM "
         << search.best_fwhm_mm << " mm (PSNR " << search.best_psnr << " dB on " << pairs.size() << " "
         << result.gaussian_split << " subject(s))";
    log << line.str() << "\n";
  }
}

// A label image or mask of the subject, checked as such against the full dose, named by its file.
std::optional<Volume> subject_image(const EvaluationData& data, const io::DatasetSubject& s, const Volume& full,
                                    const char* role) {
  const auto it = s.images.find(role);
  if (it == s.images.end()) return std::nullopt;
  const std::string path = data.dataset.resolve(it->second);
  Volume v = io::read_image(path);
  UNIPET_CHECK(same_geometry(v, full, 1e-2), path << " and " << data.dataset.resolve(s.full_dose)
                                                  << ": different geometry (size, spacing, origin or direction)");
  if (std::string(role) == "lesions") check_lesion_labels(v, path);
  else detail::region_mask(v.data > 0.5, full.data, path);  // an empty region has no CoV
  v.spacing = full.spacing, v.origin = full.origin, v.direction = full.direction;
  return v;
}

// What every prediction of one subject is scored against: read and checked once per subject,
// not once per method and DRF.
struct SubjectReference {
  Volume full;
  torch::Tensor body;
  std::optional<Volume> labels, truth, liver;
  std::vector<LesionRegion> regions;
  torch::Tensor full_clipped, liver_mask;
};

SubjectReference subject_reference(const EvaluationData& data, const io::DatasetSubject& s) {
  SubjectReference r;
  r.full = data.full_dose(s);
  r.body = checked_body_mask(r.full, data.dataset.resolve(s.full_dose));
  r.labels = subject_image(data, s, r.full, "lesions");
  r.liver = subject_image(data, s, r.full, "liver");
  if (r.labels) r.regions = lesion_regions(*r.labels);
  if (s.images.count("activity")) r.truth = data.read_suv(data.dataset.resolve(s.images.at("activity")), s, &r.full);
  // Per subject, not per prediction: the reference on the network's scale and the liver region.
  r.full_clipped = r.full.data.clamp(0, data.options.data_range);
  if (r.liver) r.liver_mask = r.liver->data > 0.5;
  return r;
}

Score score_prediction(const EvaluationData& data, const Method& m, const io::DatasetSubject& s, double drf,
                       const SubjectReference& r, const Volume& low) {
  const double range = data.options.data_range;
  const Volume pred = data.prediction(m, s, drf, r.full, low);
  Score score;
  score.subject = s.id;
  score.drf = drf;
  score.method = m.name;
  score.psnr = psnr_in(r.full.data, pred.data, r.body, range);
  score.psnr_ref_max = psnr_ref_max(r.full.data, pred.data, r.body);
  score.psnr_clipped = psnr_in(r.full_clipped, pred.data.clamp(0, range), r.body, range);
  score.ssim = ssim_in(r.full.data, pred.data, r.body, range);
  score.nrmse = nrmse_in(r.full.data, pred.data, r.body);
  if (r.liver) score.liver_cov = region_cov(pred.data, r.liver_mask);
  if (r.labels) score.lesions = score_lesions(pred, r.full, r.truth ? &*r.truth : nullptr, *r.labels, r.regions);
  return score;
}

// Scoring: the Gaussian baseline is tuned first, as its predictions depend on the FWHM.
void score_all(EvaluationData& data, const std::vector<Method>& methods,
               const std::vector<const io::DatasetSubject*>& subjects, EvaluationResult& result, std::ostream& log) {
  const auto scoring_start = std::chrono::steady_clock::now();
  const auto& baselines = data.options.baselines;
  if (std::find(baselines.begin(), baselines.end(), "gaussian") != baselines.end())
    tune_gaussian_baseline(data, subjects, result, log);
  Progress progress(log, "evaluate: scoring", static_cast<int64_t>(subjects.size() * result.drfs.size()));
  int64_t done = 0;
  for (const auto* s : subjects) {
    const SubjectReference reference = subject_reference(data, *s);
    for (double drf : result.drfs) {
      const Volume low = data.low_dose(*s, drf, reference.full);
      for (const Method& m : methods) result.scores.push_back(score_prediction(data, m, *s, drf, reference, low));
      progress.update(++done, s->id + " DRF " + detail::drf_text(drf));
    }
  }
  progress.finish();
  result.scoring_seconds = seconds_since(scoring_start);
}

}  // namespace

EvaluationResult run_evaluation(const EvaluationOptions& options, std::ostream& log) {
  check_options(options);
  EvaluationData data{options, io::read_dataset(options.dataset), {}};
  const auto methods = detail::all_methods(options);
  UNIPET_CHECK(!methods.empty(), "nothing to evaluate: give --method NAME=MODEL or --baseline");
  const auto subjects = data.dataset.subjects_in_split(options.split);
  UNIPET_CHECK(!subjects.empty(), options.dataset << ": no subjects in split '" << options.split << "'");
  EvaluationResult result;
  result.drfs = options.drfs.empty() ? data.dataset.drfs : options.drfs;
  for (double drf : result.drfs)
    UNIPET_CHECK(std::find(data.dataset.drfs.begin(), data.dataset.drfs.end(), drf) != data.dataset.drfs.end(),
                 "--drf " << drf << ": not in " << options.dataset);
  for (const auto* s : subjects) {
    result.subjects.push_back(s->id);
    for (double drf : result.drfs)
      UNIPET_CHECK(s->low_dose.count(drf), options.dataset << ": subject " << s->id << " has no image at DRF " << drf);
  }
  check_pictures(options, result);
  check_prediction_paths(data, methods, subjects, result.drfs);
  // A folder with a report's metrics or prediction cache is ours to update (a re-run computes
  // only what is missing); any other non-empty folder is refused, so no one's index.html is lost.
  const bool ours = fs::exists(fs::path(options.out) / "metrics.csv") || fs::exists(fs::path(options.out) / "predictions");
  check_output_path(options.out, {OutputKind::Folder, {fs::absolute(options.dataset).parent_path()}, ours});
  // Removed again if the run fails before anything is written into it.
  CreatedFolder created(options.out);

  make_missing_predictions(data, methods, subjects, result, log);
  score_all(data, methods, subjects, result, log);
  detail::write_report(data, result);
  created.keep();
  return result;
}

}  // namespace unipet::eval
