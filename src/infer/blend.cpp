#include "unipet/infer/blend.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "unipet/core/error.h"
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
  const auto x = select(input), step = select(network) - x, target = select(full_dose) - x;
  return {drf, log2_n, (step * target).sum().item<double>(), step.square().sum().item<double>()};
}

Blend fit_blend(const std::vector<BlendObservation>& observations) {
  UNIPET_CHECK(!observations.empty(), "blend: no validation images to fit it on");
  std::map<double, std::vector<const BlendObservation*>> by_drf;
  for (const auto& o : observations) by_drf[o.drf].push_back(&o);
  Blend blend;
  std::vector<double> weights;
  for (const auto& [drf, list] : by_drf) {
    BlendKnot k;
    k.drf = drf;
    k.images = static_cast<int64_t>(list.size());
    double num = 0, den = 0;
    std::vector<double> positions;
    for (const auto* o : list) num += o->numerator, den += o->denominator, positions.push_back(o->log2_n);
    k.log2_n = median_of(positions);
    k.alpha_ls = den > 0 ? std::clamp(num / den, 0.0, 1.0) : 0.0;
    blend.knots.push_back(k);
    weights.push_back(den);
  }
  // Knots go where the images' noise is, which need not follow the nominal DRFs' order.
  std::vector<size_t> order(blend.knots.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return blend.knots[a].log2_n < blend.knots[b].log2_n; });
  std::vector<BlendKnot> sorted;
  std::vector<double> values, sorted_weights;
  for (size_t i : order) {
    // Two DRFs estimated at the same noise level would make α jump: they share one knot.
    if (!sorted.empty() && sorted.back().log2_n >= blend.knots[i].log2_n) {
      BlendKnot& last = sorted.back();
      const double w = sorted_weights.back() + weights[i];
      values.back() = w > 0 ? (values.back() * sorted_weights.back() + blend.knots[i].alpha_ls * weights[i]) / w
                            : values.back();
      sorted_weights.back() = w;
      last.images += blend.knots[i].images;
      last.alpha_ls = values.back();
      continue;
    }
    sorted.push_back(blend.knots[i]);
    values.push_back(blend.knots[i].alpha_ls);
    sorted_weights.push_back(weights[i]);
  }
  const auto alpha = monotone_fit(values, sorted_weights);
  for (size_t i = 0; i < sorted.size(); ++i) sorted[i].alpha = alpha[i];
  blend.knots = std::move(sorted);
  return blend;
}

double Blend::alpha_at(double log2_n) const {
  UNIPET_CHECK(!knots.empty(), "blend: no knots");
  if (log2_n <= knots.front().log2_n) return knots.front().alpha;
  if (log2_n >= knots.back().log2_n) return knots.back().alpha;
  size_t i = 1;
  while (knots[i].log2_n < log2_n) ++i;
  const BlendKnot &a = knots[i - 1], &b = knots[i];
  const double t = (log2_n - a.log2_n) / (b.log2_n - a.log2_n);
  return a.alpha + t * (b.alpha - a.alpha);
}

std::string Blend::table() const {
  std::ostringstream os;
  os << "DRF     images  median n    alpha (least squares -> used)\n";
  for (const auto& k : knots) {
    os << std::left << std::setw(8) << io::drf_text(k.drf) << std::setw(8) << k.images << std::fixed
       << std::setprecision(2) << std::setw(12) << std::exp2(k.log2_n) << std::setprecision(3) << k.alpha_ls
       << " -> " << k.alpha << "\n"
       << std::defaultfloat;
  }
  return os.str();
}

std::string Blend::to_json() const {
  json knots_json = json::array();
  for (const auto& k : knots)
    knots_json.push_back(
        {{"drf", k.drf}, {"images", k.images}, {"log2_n", k.log2_n}, {"alpha_ls", k.alpha_ls}, {"alpha", k.alpha}});
  return json{{"version", 1}, {"knots", knots_json}}.dump();
}

Blend Blend::from_json(const std::string& text, const std::string& source) {
  Blend b;
  try {
    const json j = json::parse(text);
    UNIPET_CHECK(j.at("version").get<int>() == 1, "unknown version " << j.at("version"));
    for (const auto& k : j.at("knots")) {
      BlendKnot knot;
      knot.drf = k.at("drf").get<double>();
      knot.images = k.at("images").get<int64_t>();
      knot.log2_n = k.at("log2_n").get<double>();
      knot.alpha_ls = k.at("alpha_ls").get<double>();
      knot.alpha = k.at("alpha").get<double>();
      UNIPET_CHECK(std::isfinite(knot.log2_n), "a knot's log2_n is not finite");
      UNIPET_CHECK(knot.alpha >= 0 && knot.alpha <= 1, "alpha " << knot.alpha << " is outside [0, 1]");
      UNIPET_CHECK(b.knots.empty() || (knot.log2_n > b.knots.back().log2_n && knot.alpha >= b.knots.back().alpha),
                   "knots must increase in log2_n and not decrease in alpha");
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

}  // namespace unipet::infer
