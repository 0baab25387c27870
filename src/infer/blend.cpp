#include "unipet/infer/blend.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <iomanip>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "unipet/core/error.h"
#include "unipet/core/percentile.h"
#include "unipet/io/dataset.h"

namespace unipet::infer {

namespace {

using json = nlohmann::json;

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Pool adjacent violators: the weighted least-squares non-decreasing fit to `values`.
std::vector<double> monotone_fit(const std::vector<double>& values, const std::vector<double>& weights) {
  struct Block {
    double value, weight;
    size_t count;
  };
  std::vector<Block> blocks;
  for (size_t i = 0; i < values.size(); ++i) {
    blocks.push_back({values[i], weights[i], 1});
    while (blocks.size() > 1 && blocks[blocks.size() - 2].value > blocks.back().value) {
      const Block b = blocks.back();
      blocks.pop_back();
      Block& a = blocks.back();
      const double w = a.weight + b.weight;
      // Zero weights (a network that returned its input) pool as a plain mean.
      a.value = w > 0 ? (a.value * a.weight + b.value * b.weight) / w : 0.5 * (a.value + b.value);
      a.weight = w;
      a.count += b.count;
    }
  }
  std::vector<double> out;
  for (const Block& b : blocks) out.insert(out.end(), b.count, b.value);
  return out;
}

}  // namespace

BlendObservation blend_observation(const torch::Tensor& input, const torch::Tensor& network,
                                   const torch::Tensor& full_dose, const torch::Tensor& mask, double drf,
                                   double log2_n) {
  UNIPET_CHECK(input.sizes() == network.sizes() && input.sizes() == full_dose.sizes(),
               "blend: input " << input.sizes() << ", network output " << network.sizes() << " and full dose "
                               << full_dose.sizes() << " differ in shape");
  UNIPET_CHECK(!mask.defined() || mask.sizes() == input.sizes(), "blend: the mask's shape " << mask.sizes()
                                                                                            << " is not the image's");
  auto select = [&](const torch::Tensor& t) {
    const auto d = t.to(torch::kCPU, torch::kFloat64);
    return mask.defined() ? d.masked_select(mask.to(torch::kCPU, torch::kBool)) : d.flatten();
  };
  const auto x = select(input), f = select(network), step = f - x, target = select(full_dose) - x;
  const auto product = step * target, square = step.square();
  BlendObservation o;
  o.drf = drf, o.log2_n = log2_n;
  o.numerator = product.sum().item<double>(), o.denominator = square.sum().item<double>();
  // The fine grid of log2 f: the fit chooses its bands from the pooled counts.
  const auto level = f.clamp_min(std::exp2(kBlendGridLog2Low)).log2();
  const auto bin = ((level - kBlendGridLog2Low) / kBlendGridLog2Step).floor().clamp(0, kBlendGridBins - 1).to(torch::kLong);
  auto sums = [&](const torch::Tensor& weights) {
    const auto t = torch::bincount(bin, weights, kBlendGridBins).to(torch::kFloat64).contiguous();
    return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + kBlendGridBins);
  };
  o.bin_numerator = sums(product);
  o.bin_denominator = sums(square);
  o.bin_count = sums(torch::ones_like(level));
  o.bin_log2_sum = sums(level);
  // The step limits: the same sums with the step cut at each k × the whole image's step scale
  // (as denoise computes it, without the mask).
  o.input_error = target.square().sum().item<double>();
  const double scale = blend_step_scale(input, network);
  for (double k : kBlendStepLimits) {
    const auto cut = limit_step(x, f, k * scale).to(torch::kFloat64) - x;
    const auto cut_product = cut * target, cut_square = cut.square();
    BlendSums limited;
    limited.numerator = cut_product.sum().item<double>(), limited.denominator = cut_square.sum().item<double>();
    limited.bin_numerator = sums(cut_product), limited.bin_denominator = sums(cut_square);
    o.limited.push_back(std::move(limited));
  }
  return o;
}

namespace {

// The square-root scale, sign kept, on which Poisson-like noise has about one SD at every level:
// a hot organ's larger absolute noise is not mistaken for structure, nor a cold region's smaller.
torch::Tensor stabilised(const torch::Tensor& t) { return t.sign() * t.abs().sqrt(); }
torch::Tensor unstabilised(const torch::Tensor& t) { return t * t.abs(); }

}  // namespace

double blend_step_scale(const torch::Tensor& input, const torch::Tensor& network) {
  UNIPET_CHECK(input.sizes() == network.sizes(), "blend: input " << input.sizes() << " and network output "
                                                                 << network.sizes() << " differ in shape");
  const auto f = network.detach().to(torch::kCPU, torch::kFloat32);
  const auto x = input.detach().to(torch::kCPU, torch::kFloat32);
  const auto level = f.abs();
  const auto body = level > static_cast<float>(0.05 * percentile(level, 99.9));
  const auto step = (stabilised(f) - stabilised(x)).abs().masked_select(body);
  return step.numel() > 0 ? 1.4826 * unipet::median(step) : 0.0;
}

torch::Tensor limit_step(const torch::Tensor& input, const torch::Tensor& network, double bound) {
  UNIPET_CHECK(input.sizes() == network.sizes(), "blend: input " << input.sizes() << " and network output "
                                                                 << network.sizes() << " differ in shape");
  UNIPET_CHECK(bound >= 0, "blend: step bound " << bound << " is negative");
  const auto f = network.to(input.device(), input.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32);
  if (std::isinf(bound)) return f;
  const auto x = input.to(f.scalar_type());
  const auto sx = stabilised(x);
  return unstabilised(sx + (stabilised(f) - sx).clamp(-bound, bound));
}

namespace {

// The sums behind one knot, totals and per band: of the unlimited step, and (when the fit
// chooses a limit) of the step cut at each of kBlendStepLimits, with the input's own error.
struct Sums {
  double numerator = 0, denominator = 0;
  std::vector<double> band_numerator, band_denominator;

  void add(const Sums& other) {
    numerator += other.numerator, denominator += other.denominator;
    for (size_t b = 0; b < band_numerator.size(); ++b)
      band_numerator[b] += other.band_numerator[b], band_denominator[b] += other.band_denominator[b];
  }
};

struct KnotSums {
  BlendKnot knot;
  Sums sums;                  // the step used: unlimited, or the chosen limit's after choose_limits
  std::vector<Sums> limited;  // one per kBlendStepLimits (empty: no limit to choose)
  double input_error = 0;
};

double clipped_step(double numerator, double denominator) {
  return denominator > 0 ? std::clamp(numerator / denominator, 0.0, 1.0) : 0.0;
}

// Bands of the fine grid: split where the pooled voxel count passes 50, 90, 99 and 99.9%; a band
// index per fine bin, and each band's voxel-weighted mean log2 f and upper edge.
struct Bands {
  std::vector<int> of_bin;
  std::vector<double> centre_log2, upper_log2;
};

Bands choose_bands(const std::vector<BlendObservation>& observations) {
  std::vector<double> count(kBlendGridBins, 0.0), log2_sum(kBlendGridBins, 0.0);
  for (const auto& o : observations)
    for (int i = 0; i < kBlendGridBins; ++i) count[i] += o.bin_count[i], log2_sum[i] += o.bin_log2_sum[i];
  double total = 0;
  for (double c : count) total += c;
  Bands bands;
  bands.of_bin.assign(kBlendGridBins, 0);
  const double quantiles[] = {0.5, 0.9, 0.99, 0.999};
  size_t next = 0;
  double cumulative = 0, band_count = 0, band_log2 = 0;
  int band = 0;
  for (int i = 0; i < kBlendGridBins; ++i) {
    bands.of_bin[i] = band;
    cumulative += count[i], band_count += count[i], band_log2 += log2_sum[i];
    bool close = false;
    while (next < std::size(quantiles) && cumulative >= quantiles[next] * total) ++next, close = true;
    // A band closes after the bin where a quantile is passed, unless it would be the last bin.
    if (close && band_count > 0 && i + 1 < kBlendGridBins) {
      bands.centre_log2.push_back(band_log2 / band_count);
      bands.upper_log2.push_back(kBlendGridLog2Low + kBlendGridLog2Step * (i + 1));
      ++band, band_count = 0, band_log2 = 0;
    }
  }
  if (band_count > 0) {
    bands.centre_log2.push_back(band_log2 / band_count);
    bands.upper_log2.push_back(std::numeric_limits<double>::infinity());
  } else if (!bands.upper_log2.empty()) {
    // The last quantile closed the last occupied bin: the band above it is empty.
    bands.upper_log2.back() = std::numeric_limits<double>::infinity();
    for (int& b : bands.of_bin) b = std::min(b, static_cast<int>(bands.centre_log2.size()) - 1);
  }
  return bands;
}

}  // namespace

namespace {

// The least-squares α per band (or pooled without bands) of one knot's sums, and the squared
// error it leaves: Σ(y − x)² − Σ_b (2 α_b <d, t>_b − α_b² <d, d>_b).
double fitted_error(const Sums& s, double input_error) {
  if (s.band_numerator.empty()) {
    const double a = clipped_step(s.numerator, s.denominator);
    return input_error - 2 * a * s.numerator + a * a * s.denominator;
  }
  const double pooled = clipped_step(s.numerator, s.denominator);
  double error = input_error;
  for (size_t b = 0; b < s.band_numerator.size(); ++b) {
    const double a = s.band_denominator[b] > 0 ? clipped_step(s.band_numerator[b], s.band_denominator[b]) : pooled;
    error += -2 * a * s.band_numerator[b] + a * a * s.band_denominator[b];
  }
  return error;
}

// Chooses each knot's limit (index into kBlendStepLimits; its size is none) to minimise the
// summed error with the limit non-decreasing along the knots: a dynamic programme over (knot,
// limit). Ties go to the larger limit, the smaller change to the network's output.
void choose_limits(std::vector<KnotSums>& knots) {
  const size_t choices = kBlendStepLimits.size() + 1, n = knots.size();
  auto sums_of = [&](const KnotSums& k, size_t c) -> const Sums& { return c < kBlendStepLimits.size() ? k.limited[c] : k.sums; };
  // best[i][c]: the least error of knots 0..i with knot i at limit c; from[i][c]: knot i-1's limit.
  std::vector<std::vector<double>> best(n, std::vector<double>(choices));
  std::vector<std::vector<size_t>> from(n, std::vector<size_t>(choices, 0));
  for (size_t i = 0; i < n; ++i) {
    size_t arg = 0;
    for (size_t c = 0; c < choices; ++c) {
      double before = 0;
      if (i > 0) {
        if (best[i - 1][c] <= best[i - 1][arg]) arg = c;  // the best of limits <= c, ties to the larger
        before = best[i - 1][arg];
        from[i][c] = arg;
      }
      best[i][c] = before + fitted_error(sums_of(knots[i], c), knots[i].input_error);
    }
  }
  size_t c = 0;
  for (size_t d = 0; d < choices; ++d)
    if (best[n - 1][d] <= best[n - 1][c]) c = d;
  for (size_t i = n; i-- > 0;) {
    knots[i].knot.step_limit = c < kBlendStepLimits.size() ? kBlendStepLimits[c] : kNoStepLimit;
    if (c < kBlendStepLimits.size()) knots[i].sums = knots[i].limited[c];
    if (i > 0) c = from[i][c];
  }
}

}  // namespace

Blend fit_blend(const std::vector<BlendObservation>& observations, StepLimit limit) {
  UNIPET_CHECK(!observations.empty(), "blend: no validation images to fit it on");
  bool binned = true, limitable = limit == StepLimit::Fit;
  for (const auto& o : observations) {
    binned = binned && o.bin_count.size() == static_cast<size_t>(kBlendGridBins) &&
             o.bin_numerator.size() == o.bin_count.size() && o.bin_denominator.size() == o.bin_count.size() &&
             o.bin_log2_sum.size() == o.bin_count.size();
    limitable = limitable && o.limited.size() == kBlendStepLimits.size();
    for (const auto& l : o.limited)
      limitable = limitable && (!binned || (l.bin_numerator.size() == o.bin_count.size() &&
                                            l.bin_denominator.size() == o.bin_count.size()));
  }
  Bands bands;
  if (binned) bands = choose_bands(observations);
  // One band is the pooled fit itself: α then depends on n alone.
  const size_t n_bands = bands.centre_log2.size() > 1 ? bands.centre_log2.size() : 0;
  auto empty_sums = [&] {
    Sums s;
    s.band_numerator.assign(n_bands, 0.0), s.band_denominator.assign(n_bands, 0.0);
    return s;
  };
  auto add_image = [&](Sums& to, double numerator, double denominator, const std::vector<double>& bin_numerator,
                       const std::vector<double>& bin_denominator) {
    to.numerator += numerator, to.denominator += denominator;
    for (size_t i = 0; n_bands > 0 && i < bin_numerator.size(); ++i) {
      to.band_numerator[bands.of_bin[i]] += bin_numerator[i];
      to.band_denominator[bands.of_bin[i]] += bin_denominator[i];
    }
  };

  std::map<double, std::vector<const BlendObservation*>> by_drf;
  for (const auto& o : observations) by_drf[o.drf].push_back(&o);
  std::vector<KnotSums> knots;
  for (const auto& [drf, list] : by_drf) {
    KnotSums k;
    k.knot.drf = drf;
    k.knot.images = static_cast<int64_t>(list.size());
    k.sums = empty_sums();
    if (limitable) k.limited.assign(kBlendStepLimits.size(), empty_sums());
    std::vector<double> positions;
    for (const auto* o : list) {
      positions.push_back(o->log2_n);
      add_image(k.sums, o->numerator, o->denominator, o->bin_numerator, o->bin_denominator);
      k.input_error += o->input_error;
      for (size_t c = 0; c < k.limited.size(); ++c)
        add_image(k.limited[c], o->limited[c].numerator, o->limited[c].denominator, o->limited[c].bin_numerator,
                  o->limited[c].bin_denominator);
    }
    k.knot.log2_n = median_of(positions);
    knots.push_back(std::move(k));
  }
  // Knots go where the images' noise is, which need not follow the nominal DRFs' order; two DRFs
  // estimated at the same noise level would make α jump, so they share one knot (sums pooled).
  std::stable_sort(knots.begin(), knots.end(),
                   [](const KnotSums& a, const KnotSums& b) { return a.knot.log2_n < b.knot.log2_n; });
  std::vector<KnotSums> merged;
  for (auto& k : knots) {
    if (!merged.empty() && merged.back().knot.log2_n >= k.knot.log2_n) {
      KnotSums& last = merged.back();
      last.knot.images += k.knot.images;
      last.sums.add(k.sums);
      last.input_error += k.input_error;
      for (size_t c = 0; c < last.limited.size(); ++c) last.limited[c].add(k.limited[c]);
      continue;
    }
    merged.push_back(std::move(k));
  }
  if (limitable) choose_limits(merged);
  Blend blend;
  std::vector<double> values, weights;
  for (auto& k : merged) {
    k.knot.alpha_ls = clipped_step(k.sums.numerator, k.sums.denominator);
    values.push_back(k.knot.alpha_ls);
    weights.push_back(k.sums.denominator);
  }
  const auto alpha = monotone_fit(values, weights);
  for (size_t i = 0; i < merged.size(); ++i) merged[i].knot.alpha = alpha[i];
  for (size_t b = 0; b < n_bands; ++b) {
    values.clear(), weights.clear();
    for (auto& k : merged) {
      // A band no voxel of this knot fell in takes the knot's pooled step.
      const double step = k.sums.band_denominator[b] > 0
                               ? clipped_step(k.sums.band_numerator[b], k.sums.band_denominator[b])
                               : k.knot.alpha_ls;
      k.knot.band_alpha_ls.push_back(step);
      values.push_back(step);
      weights.push_back(k.sums.band_denominator[b]);
    }
    const auto band_alpha = monotone_fit(values, weights);
    for (size_t i = 0; i < merged.size(); ++i) merged[i].knot.band_alpha.push_back(band_alpha[i]);
  }
  for (auto& k : merged) blend.knots.push_back(std::move(k.knot));
  if (n_bands > 0) {
    blend.band_centre_log2 = bands.centre_log2;
    blend.band_upper_log2 = bands.upper_log2;
  }
  return blend;
}

namespace {

// Linear in log2 n between knots, clamped beyond the ends: `value(k)` of each knot.
template <typename Value>
double interpolate_knots(const std::vector<BlendKnot>& knots, double log2_n, Value value) {
  UNIPET_CHECK(!knots.empty(), "blend: no knots");
  if (log2_n <= knots.front().log2_n) return value(knots.front());
  if (log2_n >= knots.back().log2_n) return value(knots.back());
  size_t i = 1;
  while (knots[i].log2_n < log2_n) ++i;
  const BlendKnot &a = knots[i - 1], &b = knots[i];
  const double t = (log2_n - a.log2_n) / (b.log2_n - a.log2_n);
  return value(a) + t * (value(b) - value(a));
}

}  // namespace

double Blend::alpha_at(double log2_n) const {
  return interpolate_knots(knots, log2_n, [](const BlendKnot& k) { return k.alpha; });
}

std::vector<double> Blend::band_alpha_at(double log2_n) const {
  std::vector<double> out;
  for (size_t b = 0; b < band_centre_log2.size(); ++b)
    out.push_back(interpolate_knots(knots, log2_n, [b](const BlendKnot& k) { return k.band_alpha.at(b); }));
  return out;
}

torch::Tensor Blend::alpha_map(double log2_n, const torch::Tensor& network) const {
  if (!banded()) return torch::tensor(static_cast<float>(alpha_at(log2_n)), network.options().dtype(torch::kFloat32));
  const auto a = band_alpha_at(log2_n);
  const auto level = network.to(torch::kFloat32).clamp_min(static_cast<float>(std::exp2(kBlendGridLog2Low))).log2();
  // Piecewise linear in log2 f through (centre_b, α_b), constant beyond the end centres.
  auto alpha = torch::full_like(level, static_cast<float>(a.front()));
  for (size_t b = 0; b + 1 < a.size(); ++b) {
    const double width = band_centre_log2[b + 1] - band_centre_log2[b];
    alpha += static_cast<float>(a[b + 1] - a[b]) *
             ((level - static_cast<float>(band_centre_log2[b])) / static_cast<float>(width)).clamp(0, 1);
  }
  return alpha.clamp(0, 1);
}

bool Blend::limited() const {
  return std::any_of(knots.begin(), knots.end(), [](const BlendKnot& k) { return !std::isinf(k.step_limit); });
}

double Blend::step_limit_at(double log2_n) const {
  // 1/k is what varies smoothly: none (k = inf) is 1/k = 0, so a limit fades out towards it.
  const double inverse = interpolate_knots(knots, log2_n, [](const BlendKnot& k) { return 1 / k.step_limit; });
  return inverse > 0 ? 1 / inverse : kNoStepLimit;
}

torch::Tensor Blend::apply(const torch::Tensor& input, const torch::Tensor& network, double log2_n) const {
  const double k = step_limit_at(log2_n);
  // α follows the network's own level; only the step it scales is cut.
  const auto step = std::isinf(k) ? network : limit_step(input, network, k * blend_step_scale(input, network));
  if (!banded()) return apply_blend(input, step, alpha_at(log2_n));
  return apply_blend(input, step, alpha_map(log2_n, network.to(input.device())));
}

std::string Blend::table() const {
  std::ostringstream os;
  os << "DRF     images  median n    " << (limited() ? "step limit  " : "") << "alpha (least squares -> used)";
  if (banded()) {
    os << "    by the network's level (model units):";
    for (size_t b = 0; b < band_upper_log2.size(); ++b) {
      os << (b ? ", " : " ");
      if (std::isinf(band_upper_log2[b]))
        os << ">" << std::setprecision(3) << std::exp2(band_upper_log2[b - 1]);
      else
        os << "<" << std::setprecision(3) << std::exp2(band_upper_log2[b]);
    }
  }
  os << "\n";
  for (const auto& k : knots) {
    os << std::left << std::setw(8) << io::drf_text(k.drf) << std::setw(8) << k.images << std::fixed
       << std::setprecision(2) << std::setw(12) << std::exp2(k.log2_n);
    if (limited()) {
      std::ostringstream limit;
      if (std::isinf(k.step_limit))
        limit << "none";
      else
        limit << std::setprecision(2) << k.step_limit << " s";
      os << std::setw(12) << limit.str();
    }
    os << std::setprecision(3) << k.alpha_ls
       << " -> " << k.alpha;
    if (banded()) {
      os << "             ";
      for (size_t b = 0; b < k.band_alpha.size(); ++b) os << (b ? " " : "") << k.band_alpha[b];
    }
    os << "\n" << std::defaultfloat;
  }
  return os.str();
}

std::string Blend::to_json() const {
  json knots_json = json::array();
  for (const auto& k : knots) {
    json one{{"drf", k.drf}, {"images", k.images}, {"log2_n", k.log2_n}, {"alpha_ls", k.alpha_ls}, {"alpha", k.alpha}};
    if (banded()) one["band_alpha_ls"] = k.band_alpha_ls, one["band_alpha"] = k.band_alpha;
    if (limited()) one["step_limit"] = std::isinf(k.step_limit) ? json(nullptr) : json(k.step_limit);
    knots_json.push_back(one);
  }
  // Version 1 (no bands) and 2 (bands) stay byte for byte what they were, so older readers keep
  // reading them; version 3 adds the step limit (null: none), with or without bands.
  if (!banded() && !limited()) return json{{"version", 1}, {"knots", knots_json}}.dump();
  json out{{"version", limited() ? 3 : 2}, {"knots", knots_json}};
  if (banded()) {
    json upper = json::array();
    for (double u : band_upper_log2) upper.push_back(std::isinf(u) ? json(nullptr) : json(u));
    out["band_centre_log2"] = band_centre_log2, out["band_upper_log2"] = upper;
  }
  return out.dump();
}

Blend Blend::from_json(const std::string& text, const std::string& source) {
  Blend b;
  try {
    const json j = json::parse(text);
    const int version = j.at("version").get<int>();
    UNIPET_CHECK(version >= 1 && version <= 3, "unknown version " << version);
    if (version == 2 || (version == 3 && j.contains("band_centre_log2"))) {
      b.band_centre_log2 = j.at("band_centre_log2").get<std::vector<double>>();
      for (const auto& u : j.at("band_upper_log2"))
        b.band_upper_log2.push_back(u.is_null() ? std::numeric_limits<double>::infinity() : u.get<double>());
      UNIPET_CHECK(b.band_centre_log2.size() >= 2 && b.band_upper_log2.size() == b.band_centre_log2.size(),
                   "bands need at least two centres and one upper edge each");
      for (size_t i = 0; i < b.band_centre_log2.size(); ++i) {
        UNIPET_CHECK(std::isfinite(b.band_centre_log2[i]) && (i == 0 || b.band_centre_log2[i] > b.band_centre_log2[i - 1]),
                     "band centres must be finite and increasing");
        UNIPET_CHECK(b.band_centre_log2[i] < b.band_upper_log2[i], "a band's centre lies above its upper edge");
      }
    }
    const size_t n_bands = b.band_centre_log2.size();
    for (const auto& k : j.at("knots")) {
      BlendKnot knot;
      knot.drf = k.at("drf").get<double>();
      knot.images = k.at("images").get<int64_t>();
      knot.log2_n = k.at("log2_n").get<double>();
      knot.alpha_ls = k.at("alpha_ls").get<double>();
      knot.alpha = k.at("alpha").get<double>();
      if (n_bands > 0) {
        knot.band_alpha_ls = k.at("band_alpha_ls").get<std::vector<double>>();
        knot.band_alpha = k.at("band_alpha").get<std::vector<double>>();
        UNIPET_CHECK(knot.band_alpha.size() == n_bands && knot.band_alpha_ls.size() == n_bands,
                     "a knot has " << knot.band_alpha.size() << " band alphas for " << n_bands << " bands");
      }
      if (version == 3) {
        const json& limit = k.at("step_limit");
        knot.step_limit = limit.is_null() ? kNoStepLimit : limit.get<double>();
        UNIPET_CHECK(knot.step_limit > 0, "step limit " << knot.step_limit << " is not positive");
        UNIPET_CHECK(b.knots.empty() || knot.step_limit >= b.knots.back().step_limit,
                     "a step limit decreases with the noise level");
      }
      UNIPET_CHECK(std::isfinite(knot.log2_n), "a knot's log2_n is not finite");
      UNIPET_CHECK(knot.alpha >= 0 && knot.alpha <= 1, "alpha " << knot.alpha << " is outside [0, 1]");
      UNIPET_CHECK(b.knots.empty() || (knot.log2_n > b.knots.back().log2_n && knot.alpha >= b.knots.back().alpha),
                   "knots must increase in log2_n and not decrease in alpha");
      for (size_t i = 0; i < n_bands; ++i) {
        UNIPET_CHECK(knot.band_alpha[i] >= 0 && knot.band_alpha[i] <= 1,
                     "band alpha " << knot.band_alpha[i] << " is outside [0, 1]");
        UNIPET_CHECK(b.knots.empty() || knot.band_alpha[i] >= b.knots.back().band_alpha[i],
                     "a band's alpha decreases with the noise level");
      }
      b.knots.push_back(knot);
    }
    UNIPET_CHECK(!b.knots.empty(), "no knots");
  } catch (const std::exception& e) {
    UNIPET_FAIL(source << ": metadata 'unipet.blend' is malformed: " << e.what());
  }
  return b;
}

torch::Tensor apply_blend(const torch::Tensor& input, const torch::Tensor& network, double alpha) {
  UNIPET_CHECK(input.sizes() == network.sizes(), "blend: input " << input.sizes() << " and network output "
                                                                 << network.sizes() << " differ in shape");
  UNIPET_CHECK(alpha >= 0 && alpha <= 1, "blend: alpha " << alpha << " is outside [0, 1]");
  // The ends exactly: α = 0 must give the input bit for bit (a clean scan passes untouched).
  if (alpha == 0) return input.to(torch::kFloat32);
  if (alpha == 1) return network.to(torch::kFloat32);
  const auto x = input.to(torch::kFloat32);
  return x + static_cast<float>(alpha) * (network.to(x.device(), torch::kFloat32) - x);
}

torch::Tensor apply_blend(const torch::Tensor& input, const torch::Tensor& network, const torch::Tensor& alpha) {
  UNIPET_CHECK(input.sizes() == network.sizes(), "blend: input " << input.sizes() << " and network output "
                                                                 << network.sizes() << " differ in shape");
  const auto x = input.to(torch::kFloat32);
  const auto a = alpha.to(x.device(), torch::kFloat32);
  UNIPET_CHECK(a.numel() > 0 && a.min().item<float>() >= 0 && a.max().item<float>() <= 1,
               "blend: alpha is outside [0, 1]");
  return x + a * (network.to(x.device(), torch::kFloat32) - x);
}

}  // namespace unipet::infer
