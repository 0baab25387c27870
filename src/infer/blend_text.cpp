#include "unipet/infer/blend.h"

#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "unipet/core/error.h"
#include "unipet/io/dataset.h"

// The blend as text: the table `unipet calibrate` and `info` print, and the JSON a model file
// carries, whose every version must keep reading as it was written.

namespace unipet::infer {

namespace {

using json = nlohmann::json;

}  // namespace

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

}  // namespace unipet::infer
