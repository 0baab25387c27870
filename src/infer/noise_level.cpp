#include "unipet/infer/noise_level.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <ostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "unipet/core/error.h"
#include "unipet/core/percentile.h"
#include "unipet/core/body_mask.h"
#include "unipet/core/gaussian_filter.h"

namespace unipet::infer {

namespace {

using json = nlohmann::json;

// The 90% two-sided normal quantile: the interval is prediction ± this many residual SDs.
constexpr double kZ90 = 1.6448536269514722;

double median_of(const torch::Tensor& values) { return unipet::median(values); }

double median_of(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double percentile_of(std::vector<double> v, double p) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t k = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, std::max<size_t>(1, k) - 1)];
}

std::string short_number(double v) {
  std::ostringstream os;
  os << std::setprecision(v < 10 ? 2 : 3) << v;
  return os.str();
}

}  // namespace

NoiseFeatureOptions::NoiseFeatureOptions() : bands_voxels{0.0, 1.25, 2.5, 5.0} {}

void NoiseFeatureOptions::validate() const {
  UNIPET_CHECK(bands_voxels.size() >= 2, "noise features: need at least 2 band edges, got " << bands_voxels.size());
  for (size_t k = 0; k < bands_voxels.size(); ++k) {
    UNIPET_CHECK(std::isfinite(bands_voxels[k]) && bands_voxels[k] >= 0,
                 "noise features: band edge " << bands_voxels[k] << " voxels is not a width");
    UNIPET_CHECK(k == 0 || bands_voxels[k] > bands_voxels[k - 1], "noise features: band edges must increase");
  }
  UNIPET_CHECK(std::isfinite(mean_voxels) && mean_voxels > 0, "noise features: mean_voxels must be > 0");
  UNIPET_CHECK(mean_floor > 0 && mean_floor < 1, "noise features: mean_floor must be in (0, 1)");
  UNIPET_CHECK(erode_voxels >= 0 && erode_voxels < 16, "noise features: erode_voxels must be in [0, 16)");
}

std::vector<double> noise_features(const Volume& image, const NoiseFeatureOptions& options, const std::string& source) {
  options.validate();
  image.validate(source);
  Volume x = image;
  x.data = image.data.to(torch::kCPU, torch::kFloat32).contiguous();
  // A constant image has no noise, and no tissue level for the body outline to be drawn at.
  UNIPET_CHECK((x.data.max() > x.data.min()).item<bool>(), source << ": a constant image has no noise to measure");
  // The body outline smooths over 3 voxels and the erosion pools over 2r + 1: a smaller image
  // would fail inside LibTorch with a message naming neither the file nor the reason.
  const int64_t min_side = std::max<int64_t>(3, 2 * options.erode_voxels + 1);
  UNIPET_CHECK(x.data.dim() == 3 && x.data.size(0) >= min_side && x.data.size(1) >= min_side && x.data.size(2) >= min_side,
               source << ": " << x.data.size(-1) << " x " << x.data.size(-2) << " x " << x.data.size(-3)
                      << " voxels is too small to measure the noise in (at least " << min_side << " along every axis)");
  torch::Tensor body;
  try {
    body = body_mask(x.data);
  } catch (const Error& e) {
    UNIPET_FAIL(source << ": no body outline to measure the noise in (" << e.what() << ")");
  }
  // Shrink the outline: the skin edge is the strongest structure in a PET image.
  if (options.erode_voxels > 0) {
    const int64_t r = options.erode_voxels;
    const auto outside = (~body).to(torch::kFloat32).unsqueeze(0).unsqueeze(0);
    body = body & ~(torch::max_pool3d(outside, 2 * r + 1, 1, r).squeeze(0).squeeze(0) > 0);
  }
  // Each width is filtered once (the local mean's width is usually also a band edge).
  std::map<double, torch::Tensor> filtered;
  auto smooth = [&](double fwhm) -> const torch::Tensor& {
    auto it = filtered.find(fwhm);
    if (it == filtered.end()) it = filtered.emplace(fwhm, gaussian_filter(x, fwhm).data).first;
    return it->second;
  };
  const double voxel_mm = std::cbrt(x.spacing[0] * x.spacing[1] * x.spacing[2]);
  const torch::Tensor mean = smooth(options.mean_voxels * voxel_mm);
  UNIPET_CHECK(body.any().item<bool>(), source << ": the body outline is too thin to measure the noise in");
  const double typical = median_of(x.data.masked_select(body));
  UNIPET_CHECK(typical > 0, source << ": the body's median value is " << typical << ", not positive");
  const torch::Tensor use = body & (mean > options.mean_floor * typical);
  const int64_t voxels = use.sum().item<int64_t>();
  UNIPET_CHECK(voxels >= 64, source << ": only " << voxels << " voxels to measure the noise in");
  const double total = x.data.clamp_min(0).sum(torch::kFloat64).item<double>();
  const torch::Tensor local_mean = mean.masked_select(use);

  std::vector<torch::Tensor> smoothed;
  for (double fwhm : options.bands_voxels) smoothed.push_back(smooth(fwhm * voxel_mm).masked_select(use));
  std::vector<double> features;
  for (size_t k = 0; k + 1 < smoothed.size(); ++k) {
    const double energy = median_of((smoothed[k] - smoothed[k + 1]).square() / local_mean);
    UNIPET_CHECK(energy > 0 && std::isfinite(energy),
                 source << ": no noise in the " << options.bands_voxels[k] << "-" << options.bands_voxels[k + 1]
                        << " voxel band (a noise-free image has no noise level)");
    features.push_back(std::log2(energy / total));
  }
  features.push_back(std::log2(x.voxel_volume_ml()));
  return features;
}

double DrfEstimate::drf() const { return std::exp2(log2_drf); }
double DrfEstimate::low() const { return std::exp2(log2_drf - kZ90 * log2_sd); }
double DrfEstimate::high() const { return std::exp2(log2_drf + kZ90 * log2_sd); }

std::string DrfEstimate::summary() const {
  return "effective DRF " + short_number(drf()) + " (90% interval " + short_number(low()) + " to " +
         short_number(high()) + ")";
}

std::string DrfEstimate::to_json() const {
  return json{{"drf", drf()}, {"low", low()}, {"high", high()}, {"log2_drf", log2_drf}, {"log2_sd", log2_sd}}.dump();
}

DrfEstimate DrfEstimator::estimate_from_features(const std::vector<double>& features) const {
  UNIPET_CHECK(coefficients.size() == features.size() + 1,
               "DRF estimator: " << coefficients.size() << " coefficients for " << features.size() << " features");
  DrfEstimate e;
  e.log2_drf = coefficients[0];
  for (size_t k = 0; k < features.size(); ++k) e.log2_drf += coefficients[k + 1] * features[k];
  e.log2_sd = residual_sd;
  return e;
}

DrfEstimate DrfEstimator::estimate(const Volume& image, const std::string& source) const {
  return estimate_from_features(noise_features(image, features, source));
}

std::string DrfEstimator::to_json() const {
  return json{{"version", 1},
              {"bands_voxels", features.bands_voxels},
              {"mean_voxels", features.mean_voxels},
              {"mean_floor", features.mean_floor},
              {"erode_voxels", features.erode_voxels},
              {"coefficients", coefficients},
              {"residual_sd", residual_sd},
              {"reference_counts", reference_counts},
              {"images", images},
              {"dataset", dataset}}
      .dump();
}

DrfEstimator DrfEstimator::from_json(const std::string& text, const std::string& source) {
  DrfEstimator e;
  try {
    const json j = json::parse(text);
    UNIPET_CHECK(j.at("version").get<int>() == 1, "unknown version " << j.at("version"));
    e.features.bands_voxels = j.at("bands_voxels").get<std::vector<double>>();
    e.features.mean_voxels = j.at("mean_voxels").get<double>();
    e.features.mean_floor = j.at("mean_floor").get<double>();
    e.features.erode_voxels = j.at("erode_voxels").get<int64_t>();
    e.coefficients = j.at("coefficients").get<std::vector<double>>();
    e.residual_sd = j.at("residual_sd").get<double>();
    e.reference_counts = j.at("reference_counts").get<double>();
    e.images = j.at("images").get<int64_t>();
    e.dataset = j.at("dataset").get<std::string>();
    e.features.validate();
    // One per band, the voxel volume's and the intercept.
    UNIPET_CHECK(e.coefficients.size() == e.features.bands_voxels.size() + 1,
                 e.coefficients.size() << " coefficients for " << e.features.bands_voxels.size() - 1 << " bands");
    for (double c : e.coefficients) UNIPET_CHECK(std::isfinite(c), "a coefficient is not finite");
    UNIPET_CHECK(std::isfinite(e.residual_sd) && e.residual_sd >= 0, "residual_sd must be >= 0");
  } catch (const std::exception& err) {
    UNIPET_FAIL(source << ": metadata 'unipet.drf_estimator' is malformed: " << err.what());
  }
  return e;
}

double median_full_counts(const io::Dataset& dataset, const std::string& split) {
  const auto subjects = dataset.subjects_in_split(split);
  std::vector<double> counts;
  for (const auto* s : subjects)
    if (s->numbers.count("counts_full")) counts.push_back(s->numbers.at("counts_full"));
  return !counts.empty() && counts.size() == subjects.size() ? median_of(counts) : 0.0;
}

DrfEstimator fit_drf_estimator(const std::vector<DrfSample>& samples, const DrfFitOptions& options,
                               const std::string& source) {
  options.features.validate();
  const int64_t k = static_cast<int64_t>(options.features.bands_voxels.size());  // bands + voxel volume
  const int64_t n = static_cast<int64_t>(samples.size());
  UNIPET_CHECK(n >= k + 3, source << ": " << n << " images are too few to fit the DRF estimator (it needs "
                                  << k + 3 << ")");
  auto x = torch::ones({n, k + 1}, torch::kFloat64);
  auto y = torch::empty({n}, torch::kFloat64);
  for (int64_t i = 0; i < n; ++i) {
    UNIPET_CHECK(static_cast<int64_t>(samples[i].features.size()) == k, source << ": a sample has the wrong feature count");
    for (int64_t j = 0; j < k; ++j) x[i][j + 1] = samples[i].features[j];
    y[i] = std::log2(samples[i].effective_drf);
  }
  // Ridge on centred slopes: the intercept is free, the penalty only steadies nearly collinear
  // bands (on a handful of images the bands move together).
  const auto centre = x.mean(0);
  centre[0] = 0;
  const auto xc = x - centre;
  auto penalty = torch::eye(k + 1, torch::kFloat64) * (options.ridge * static_cast<double>(n));
  penalty[0][0] = 0;
  const auto beta_c = at::linalg_solve(xc.t().mm(xc) + penalty, xc.t().mv(y));
  const auto residual = y - xc.mv(beta_c);
  DrfEstimator e;
  e.features = options.features;
  e.coefficients.assign(static_cast<size_t>(k + 1), 0.0);
  for (int64_t j = 1; j <= k; ++j) e.coefficients[j] = beta_c[j].item<double>();
  // Back from centred features: intercept = b0 − Σ b_j · centre_j.
  e.coefficients[0] = beta_c[0].item<double>() - (beta_c.slice(0, 1) * centre.slice(0, 1)).sum().item<double>();
  e.residual_sd = std::sqrt(residual.square().sum().item<double>() / static_cast<double>(n - k - 1));
  e.images = n;
  return e;
}

std::string drf_validation_table(const DrfEstimator& estimator, const std::vector<DrfSample>& samples) {
  struct Errors {
    std::vector<double> effective, nominal, signed_effective;
    int64_t covered = 0;
  };
  std::map<double, Errors> by_drf;
  Errors all;
  for (const auto& s : samples) {
    const DrfEstimate e = estimator.estimate_from_features(s.features);
    const double err_eff = e.log2_drf - std::log2(s.effective_drf);
    const bool covered = s.effective_drf >= e.low() && s.effective_drf <= e.high();
    for (Errors* t : {&by_drf[s.drf], &all}) {
      t->effective.push_back(std::abs(err_eff));
      t->signed_effective.push_back(err_eff);
      t->nominal.push_back(std::abs(e.log2_drf - std::log2(s.drf)));
      t->covered += covered;
    }
  }
  std::ostringstream os;
  os << std::fixed << std::setprecision(2);
  os << "| DRF | images | median abs err log2 (effective) | 90th pct | median bias | median abs err log2 "
        "(nominal) | 90% interval covers |\n| --- | --- | --- | --- | --- | --- | --- |\n";
  auto row = [&](const std::string& name, const Errors& t) {
    os << "| " << name << " | " << t.effective.size() << " | " << median_of(t.effective) << " | "
       << percentile_of(t.effective, 90) << " | " << median_of(t.signed_effective) << " | " << median_of(t.nominal)
       << " | " << std::setprecision(0) << 100.0 * static_cast<double>(t.covered) / static_cast<double>(t.effective.size())
       << "% |\n"
       << std::setprecision(2);
  };
  for (const auto& [drf, t] : by_drf) row(drf == 1 ? "1 (full)" : io::drf_text(drf), t);
  row("all", all);
  return os.str();
}

}  // namespace unipet::infer
