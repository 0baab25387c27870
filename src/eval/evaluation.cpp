#include "unipet/eval/evaluation.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "evaluation_data.h"
#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"
#include "unipet/core/progress.h"
#include "unipet/eval/body_mask.h"
#include "unipet/eval/gaussian_filter.h"
#include "unipet/eval/lesions.h"
#include "unipet/eval/metrics.h"
#include "unipet/infer/blend.h"
#include "unipet/infer/model_calibration.h"
#include "unipet/io/image_io.h"

namespace unipet::eval {

namespace fs = std::filesystem;
using json = nlohmann::json;
using detail::EvaluationData;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Where each lesion and its background are, as flat voxel indices: computed once per subject
// (the dilation is the costly part) and reused for every method and DRF. The background is a
// shell 2 to 4 voxels around the lesion, other lesions left out.
struct LesionRegion {
  int64_t label;
  torch::Tensor lesion, shell;  // flat indices; shell empty when there is no background
};

std::vector<LesionRegion> lesion_regions(const Volume& labels) {
  std::vector<LesionRegion> regions;
  const auto values = std::get<0>(torch::_unique(labels.data.flatten(), true));
  for (int64_t i = 0; i < values.numel(); ++i) {
    const double label = values[i].item<double>();
    if (label <= 0) continue;
    const auto in = labels.data == label;
    // Dilate within the lesion's bounding box (plus the shell) rather than over the volume.
    const auto where = torch::nonzero(in);
    const auto lo = std::get<0>(where.min(0)), hi = std::get<0>(where.max(0));
    std::array<int64_t, 3> from{}, size{};
    for (int64_t a = 0; a < 3; ++a) {
      from[a] = std::max<int64_t>(0, lo[a].item<int64_t>() - 4);
      size[a] = std::min<int64_t>(labels.data.size(a), hi[a].item<int64_t>() + 5) - from[a];
    }
    auto crop = [&](const torch::Tensor& t) {
      return t.narrow(0, from[0], size[0]).narrow(1, from[1], size[1]).narrow(2, from[2], size[2]);
    };
    const auto box = crop(in).to(torch::kFloat32).unsqueeze(0).unsqueeze(0);
    auto dilate = [&](int64_t r) { return torch::max_pool3d(box, 2 * r + 1, 1, r).squeeze(0).squeeze(0) > 0; };
    auto shell_box = dilate(4) & ~dilate(1) & (crop(labels.data) == 0);
    auto shell = torch::zeros_like(in);
    crop(shell).copy_(shell_box);
    regions.push_back({static_cast<int64_t>(label), torch::nonzero(in.flatten()).flatten(),
                       torch::nonzero(shell.flatten()).flatten()});
  }
  return regions;
}

std::pair<double, double> region_means(const torch::Tensor& image, const LesionRegion& r) {
  if (r.shell.numel() == 0) return {kNaN, kNaN};
  const auto flat = image.flatten();
  return {flat.index_select(0, r.lesion).mean().item<double>(), flat.index_select(0, r.shell).mean().item<double>()};
}

std::vector<LesionScore> score_lesions(const Volume& pred, const Volume& full, const Volume* truth, const Volume& labels,
                                       const std::vector<LesionRegion>& regions) {
  const auto p = lesion_stats(pred, labels), f = lesion_stats(full, labels);
  std::vector<LesionStats> t;
  if (truth) t = lesion_stats(*truth, labels);
  std::vector<LesionScore> out;
  for (size_t i = 0; i < p.size(); ++i) {
    LesionScore l;
    l.label = p[i].label;
    l.volume_ml = p[i].volume_ml;
    l.suv_max = p[i].suv_max, l.suv_mean = p[i].suv_mean, l.suv_peak = p[i].suv_peak;
    l.full_max = f[i].suv_max, l.full_mean = f[i].suv_mean, l.full_peak = f[i].suv_peak;
    if (truth) l.true_max = t[i].suv_max, l.true_mean = t[i].suv_mean, l.true_peak = t[i].suv_peak;
    const auto [pl, pb] = region_means(pred.data, regions[i]);
    const auto [rl, rb] = region_means((truth ? *truth : full).data, regions[i]);
    try {
      l.contrast_recovery = contrast_recovery(pl, pb, rl, rb);
    } catch (const Error&) {
      l.contrast_recovery = kNaN;  // no contrast in the reference, or no background shell
    }
    out.push_back(l);
  }
  return out;
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

namespace {

// What a model method's predictions depend on: the model file's bytes (FNV-1a, 64 bits) and every
// setting that changes the output. A cache made by another model or with other settings is stale.
std::string prediction_stamp(const std::string& model, const infer::DenoiseOptions& o) {
  std::ifstream in(model, std::ios::binary);
  UNIPET_CHECK(in, model << ": cannot read");
  uint64_t hash = 14695981039346656037ull;
  int64_t bytes = 0;
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      hash = (hash ^ static_cast<unsigned char>(buffer[i])) * 1099511628211ull;
    }
    bytes += in.gcount();
  }
  std::ostringstream stamp;
  stamp << "model bytes " << bytes << " fnv1a64 " << std::hex << hash << std::dec << "\nprecision " << o.precision
        << "\ntile " << o.window.tile << "\noverlap " << o.window.overlap << "\nsigma_scale " << o.window.sigma_scale
        << "\nbackground " << o.window.background << "\ntta " << o.window.tta << "\n";
  return stamp.str();
}

// Which predictions in OUT/predictions/NAME/ this model file made with these settings: a ledger
// (.unipet-cache.json) of the stamp and of the files made under it. A file the ledger does not
// list (made by a retrained model under the same name, with other tile settings, or not by
// unipet at all) is made again over it: scoring it would report another model's numbers, and
// deleting it could delete a user's file.
class PredictionLedger {
 public:
  PredictionLedger(fs::path folder, std::string stamp) : folder_(std::move(folder)), stamp_(std::move(stamp)) {
    std::ifstream in(folder_ / kName);
    if (!in) return;
    const json ledger = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (ledger.is_object() && ledger.value("stamp", "") == stamp_ && ledger.contains("files") &&
        ledger["files"].is_array())
      for (const auto& f : ledger["files"])
        if (f.is_string()) files_.insert(f.get<std::string>());
  }
  /// True when `path` (inside the folder) exists and was made under this stamp.
  bool has(const std::string& path) const { return files_.count(relative(path)) && fs::exists(path); }
  /// Records `path` as made under this stamp (the ledger is rewritten atomically).
  void add(const std::string& path) {
    files_.insert(relative(path));
    fs::create_directories(folder_);
    write_file_atomically((folder_ / kName).string(), json{{"stamp", stamp_}, {"files", files_}}.dump(1) + "\n");
  }

 private:
  static constexpr const char* kName = ".unipet-cache.json";
  std::string relative(const std::string& path) const {
    return fs::path(path).lexically_relative(folder_).generic_string();
  }
  fs::path folder_;
  std::string stamp_;
  std::set<std::string> files_;
};

}  // namespace

std::string EvaluationData::prediction_path(const Method& method, const io::DatasetSubject& subject, double drf) const {
  const std::string& low = subject.low_dose.at(drf);
  if (method.kind == Method::Kind::Folder) return (fs::path(method.path) / low).string();
  return (fs::path(options.out) / "predictions" / method.name / low).string();
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
      out.data = infer::apply_blend(low.data, out.data, method.calibration->blend->alpha_at(noise.log2_drf));
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

EvaluationResult run_evaluation(const EvaluationOptions& options, std::ostream& log) {
  UNIPET_CHECK(!options.out.empty(), "--out is required");
  UNIPET_CHECK(options.data_range > 0 && std::isfinite(options.data_range),
               "--range must be positive, got " << options.data_range);
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
  // A folder with a report's metrics or prediction cache is ours to update (a re-run computes
  // only what is missing); any other non-empty folder is refused, so no one's index.html is lost.
  const bool ours = fs::exists(fs::path(options.out) / "metrics.csv") || fs::exists(fs::path(options.out) / "predictions");
  check_output_path(options.out, {OutputKind::Folder, {fs::absolute(options.dataset).parent_path()}, ours});
  // Removed again if the run fails before anything is written into it.
  CreatedFolder created(options.out);

  // 1. Model predictions that are not cached yet.
  const auto denoise_start = std::chrono::steady_clock::now();
  // The cache holds the network's own output; a calibrated model's blend is its own row.
  infer::DenoiseOptions network_only = options.denoise;
  network_only.blend = false;
  for (const Method& m : methods) {
    if (m.kind != Method::Kind::Model) continue;
    const infer::Denoiser denoiser(m.path, network_only);
    detail::PredictionLedger ledger(fs::path(options.out) / "predictions" / m.name,
                                    detail::prediction_stamp(m.path, options.denoise));
    Progress progress(log, "evaluate: " + m.name, static_cast<int64_t>(subjects.size() * result.drfs.size()));
    int64_t done = 0, remade = 0;
    for (const auto* s : subjects) {
      for (double drf : result.drfs) {
        const std::string out = data.prediction_path(m, *s, drf);
        if (ledger.has(out)) {
          ++result.predictions_cached;
        } else {
          if (fs::exists(out)) ++remade;
          fs::create_directories(fs::path(out).parent_path());
          infer::StudyOptions study;
          study.suv_factor = io::subject_suv_factor(data.dataset, *s);
          if (data.dataset.units == Units::SUV) study.input_units = "suv";
          infer::denoise_study(denoiser, data.dataset.resolve(s->low_dose.at(drf)), out, study);
          ledger.add(out);
          ++result.predictions_run;
        }
        progress.update(++done, s->id + " DRF " + detail::drf_text(drf));
      }
    }
    progress.finish();
    if (remade)
      log << "evaluate: " << m.name << ": made " << remade << " prediction(s) again: the ones in "
          << (fs::path(options.out) / "predictions" / m.name).string()
          << " were not made by this model file with these settings\n";
  }
  result.denoise_seconds = seconds_since(denoise_start);

  const auto scoring_start = std::chrono::steady_clock::now();
  // 2. The Gaussian baseline's FWHM per DRF, tuned on the validation split (train if it has none).
  if (std::find(options.baselines.begin(), options.baselines.end(), "gaussian") != options.baselines.end()) {
    auto tuning = data.dataset.subjects_in_split("val");
    result.gaussian_split = "val";
    if (tuning.empty()) tuning = data.dataset.subjects_in_split("train"), result.gaussian_split = "train";
    if (tuning.empty()) tuning = subjects, result.gaussian_split = options.split;
    for (double drf : result.drfs) {
      std::vector<std::pair<Volume, Volume>> pairs;
      std::vector<torch::Tensor> masks;
      for (const auto* s : tuning) {
        if (!s->low_dose.count(drf)) continue;
        Volume full = data.full_dose(*s);
        masks.push_back(body_mask(full.data));
        pairs.emplace_back(data.low_dose(*s, drf, full), std::move(full));
      }
      const auto search = best_gaussian_fwhm(pairs, options.data_range, 15.0, masks);
      data.gaussian_fwhm_mm[drf] = result.gaussian_fwhm_mm[drf] = search.best_fwhm_mm;
      std::ostringstream line;
      line << std::fixed << std::setprecision(2) << "gaussian baseline, DRF " << detail::drf_text(drf) << ": FWHM "
           << search.best_fwhm_mm << " mm (PSNR " << search.best_psnr << " dB on " << pairs.size() << " "
           << result.gaussian_split << " subject(s))";
      log << line.str() << "\n";
    }
  }

  // 3. Scores.
  Progress progress(log, "evaluate: scoring", static_cast<int64_t>(subjects.size() * result.drfs.size()));
  int64_t done = 0;
  for (const auto* s : subjects) {
    const Volume full = data.full_dose(*s);
    const torch::Tensor body = body_mask(full.data);
    std::optional<Volume> labels, truth, liver;
    auto image = [&](const char* role) -> std::optional<Volume> {
      const auto it = s->images.find(role);
      if (it == s->images.end()) return std::nullopt;
      return io::read_image(data.dataset.resolve(it->second));
    };
    labels = image("lesions");
    liver = image("liver");
    const auto regions = labels ? lesion_regions(*labels) : std::vector<LesionRegion>{};
    if (s->images.count("activity")) truth = data.read_suv(data.dataset.resolve(s->images.at("activity")), *s, &full);
    // Per subject, not per prediction: the reference on the network's scale and the liver region.
    const torch::Tensor full_clipped = full.data.clamp(0, options.data_range);
    const torch::Tensor liver_mask = liver ? liver->data > 0.5 : torch::Tensor();
    for (double drf : result.drfs) {
      const Volume low = data.low_dose(*s, drf, full);
      for (const Method& m : methods) {
        const Volume pred = data.prediction(m, *s, drf, full, low);
        Score score;
        score.subject = s->id;
        score.drf = drf;
        score.method = m.name;
        score.psnr = psnr_in(full.data, pred.data, body, options.data_range);
        score.psnr_ref_max = psnr_ref_max(full.data, pred.data, body);
        score.psnr_clipped = psnr_in(full_clipped, pred.data.clamp(0, options.data_range), body, options.data_range);
        score.ssim = ssim_in(full.data, pred.data, body, options.data_range);
        score.nrmse = nrmse_in(full.data, pred.data, body);
        if (liver) score.liver_cov = region_cov(pred.data, liver_mask);
        if (labels) score.lesions = score_lesions(pred, full, truth ? &*truth : nullptr, *labels, regions);
        result.scores.push_back(std::move(score));
      }
      progress.update(++done, s->id + " DRF " + detail::drf_text(drf));
    }
  }
  progress.finish();
  result.scoring_seconds = seconds_since(scoring_start);
  detail::write_report(data, result);
  created.keep();
  return result;
}

std::string score_pair(const std::string& pred_path, const std::string& ref_path, const std::string& mask_path,
                       const std::string& lesions_path, double data_range) {
  UNIPET_CHECK(data_range > 0 && std::isfinite(data_range), "--range must be positive, got " << data_range);
  const Volume ref = io::read_image(ref_path);
  const Volume pred = io::read_image(pred_path);
  UNIPET_CHECK(same_geometry(pred, ref, 1e-2), pred_path << " and " << ref_path
                                                         << ": different geometry (size, spacing, origin or direction)");
  UNIPET_CHECK(pred.units == ref.units || pred.units == Units::Unknown || ref.units == Units::Unknown,
               pred_path << " is in " << to_string(pred.units) << " but " << ref_path << " in " << to_string(ref.units));
  torch::Tensor mask;
  if (!mask_path.empty()) {
    const Volume m = io::read_image(mask_path);
    UNIPET_CHECK(same_geometry(m, ref, 1e-2), mask_path << " and " << ref_path << ": different geometry");
    mask = m.data > 0.5;
  }
  std::ostringstream out;
  out << std::fixed;
  out << "region: " << (mask.defined() ? "inside " + mask_path : std::string("whole volume (no --mask)")) << "\n";
  out << std::setprecision(3) << "PSNR:        " << psnr_in(ref.data, pred.data, mask, data_range) << " dB (range "
      << data_range << ")\n";
  out << "PSNR (max):  " << psnr_ref_max(ref.data, pred.data, mask) << " dB (range: the reference's maximum)\n";
  out << std::setprecision(4) << "SSIM:        " << ssim_in(ref.data, pred.data, mask, data_range) << "\n";
  out << "NRMSE:       " << nrmse_in(ref.data, pred.data, mask) << "\n";
  if (!lesions_path.empty()) {
    const Volume labels = io::read_image(lesions_path);
    const auto p = lesion_stats(pred, labels), r = lesion_stats(ref, labels);
    out << std::setprecision(3);
    for (size_t i = 0; i < p.size(); ++i) {
      out << "lesion " << p[i].label << " (" << p[i].volume_ml << " ml): SUVmax " << p[i].suv_max << " vs "
          << r[i].suv_max << " (" << 100 * relative_bias(p[i].suv_max, r[i].suv_max) << "%), SUVmean "
          << p[i].suv_mean << " vs " << r[i].suv_mean << " (" << 100 * relative_bias(p[i].suv_mean, r[i].suv_mean)
          << "%), SUVpeak " << p[i].suv_peak << " vs " << r[i].suv_peak << " ("
          << 100 * relative_bias(p[i].suv_peak, r[i].suv_peak) << "%)\n";
    }
    if (p.empty()) out << "lesions: none in " << lesions_path << "\n";
  }
  return out.str();
}

}  // namespace unipet::eval
