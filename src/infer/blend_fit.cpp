#include "unipet/infer/blend.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <vector>

#include "unipet/core/error.h"

// Fitting a blend from the sums of blend_observation.cpp: arithmetic on a few numbers per image
// (per knot, band and step limit), no tensors.

namespace unipet::infer {

namespace {

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

// Which sums every observation carries: per bin of the fine grid (else no bands can be chosen)
// and per step limit (else no limit can be); observations from older callers may lack either.
struct Carried {
  bool binned, limitable;
};

Carried carried_sums(const std::vector<BlendObservation>& observations, StepLimit limit) {
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
  return {binned, limitable};
}

// One knot per DRF, its images' sums pooled per band (n_bands 0: the totals alone).
std::vector<KnotSums> knots_by_drf(const std::vector<BlendObservation>& observations, const Bands& bands,
                                   size_t n_bands, bool limitable) {
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
  return knots;
}

// Knots go where the images' noise is, which need not follow the nominal DRFs' order; two DRFs
// estimated at the same noise level would make α jump, so they share one knot (sums pooled).
std::vector<KnotSums> merge_equal_levels(std::vector<KnotSums> knots) {
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
  return merged;
}

// Each knot's least-squares α, pooled and per band, made non-decreasing along the knots; weighted
// by Σ<d, d>, that is the least-squares monotone fit to the same squared error (blend.h).
Blend monotone_blend(std::vector<KnotSums>& knots, const Bands& bands, size_t n_bands) {
  Blend blend;
  std::vector<double> values, weights;
  for (auto& k : knots) {
    k.knot.alpha_ls = clipped_step(k.sums.numerator, k.sums.denominator);
    values.push_back(k.knot.alpha_ls);
    weights.push_back(k.sums.denominator);
  }
  const auto alpha = monotone_fit(values, weights);
  for (size_t i = 0; i < knots.size(); ++i) knots[i].knot.alpha = alpha[i];
  for (size_t b = 0; b < n_bands; ++b) {
    values.clear(), weights.clear();
    for (auto& k : knots) {
      // A band no voxel of this knot fell in takes the knot's pooled step.
      const double step = k.sums.band_denominator[b] > 0
                               ? clipped_step(k.sums.band_numerator[b], k.sums.band_denominator[b])
                               : k.knot.alpha_ls;
      k.knot.band_alpha_ls.push_back(step);
      values.push_back(step);
      weights.push_back(k.sums.band_denominator[b]);
    }
    const auto band_alpha = monotone_fit(values, weights);
    for (size_t i = 0; i < knots.size(); ++i) knots[i].knot.band_alpha.push_back(band_alpha[i]);
  }
  for (auto& k : knots) blend.knots.push_back(std::move(k.knot));
  if (n_bands > 0) {
    blend.band_centre_log2 = bands.centre_log2;
    blend.band_upper_log2 = bands.upper_log2;
  }
  return blend;
}

}  // namespace

Blend fit_blend(const std::vector<BlendObservation>& observations, StepLimit limit) {
  UNIPET_CHECK(!observations.empty(), "blend: no validation images to fit it on");
  const Carried carried = carried_sums(observations, limit);
  Bands bands;
  if (carried.binned) bands = choose_bands(observations);
  // One band is the pooled fit itself: α then depends on n alone.
  const size_t n_bands = bands.centre_log2.size() > 1 ? bands.centre_log2.size() : 0;
  auto knots = merge_equal_levels(knots_by_drf(observations, bands, n_bands, carried.limitable));
  if (carried.limitable) choose_limits(knots);
  return monotone_blend(knots, bands, n_bands);
}

}  // namespace unipet::infer
