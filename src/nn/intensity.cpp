#include "unipet/nn/intensity.h"

#include <cmath>
#include <sstream>

#include "unipet/core/error.h"

namespace unipet::nn {

std::string to_string(IntensityMapping mapping) {
  switch (mapping) {
    case IntensityMapping::Linear:
      return "linear";
    case IntensityMapping::Sqrt:
      return "sqrt";
    case IntensityMapping::Log:
      return "log";
  }
  return "?";
}

IntensityMapping intensity_mapping_from_string(const std::string& text, const std::string& option) {
  if (text == "linear") return IntensityMapping::Linear;
  if (text == "sqrt") return IntensityMapping::Sqrt;
  if (text == "log") return IntensityMapping::Log;
  throw Error(option + ": unknown intensity mapping '" + text + "' (expected linear, sqrt or log)");
}

void IntensityNormalization::validate() const {
  UNIPET_CHECK(std::isfinite(clip_max) && clip_max > 0,
               "intensity normalisation: clip_max must be positive, got " << clip_max);
  UNIPET_CHECK(std::isfinite(scale) && scale > 0, "intensity normalisation: scale must be positive, got " << scale);
}

torch::Tensor IntensityNormalization::normalize(const torch::Tensor& x) const {
  switch (mapping) {
    case IntensityMapping::Linear:
      return x.clamp(0.0, clip_max) / clip_max;
    case IntensityMapping::Sqrt:
      return x.sign() * (x.abs() / scale).sqrt();
    case IntensityMapping::Log:
      return x.sign() * (x.abs() / scale).log1p();
  }
  return x;
}

torch::Tensor IntensityNormalization::denormalize(const torch::Tensor& y) const {
  switch (mapping) {
    case IntensityMapping::Linear:
      return y * clip_max;
    case IntensityMapping::Sqrt:
      return y * y.abs() * scale;
    case IntensityMapping::Log:
      return y.sign() * y.abs().expm1() * scale;
  }
  return y;
}

torch::Tensor IntensityNormalization::clipped_part(const torch::Tensor& x) const {
  if (mapping == IntensityMapping::Linear) return x - x.clamp(0.0, clip_max);
  return torch::zeros_like(x);
}

double IntensityNormalization::normalize_value(double x) const {
  return normalize(torch::tensor(x, torch::kFloat64)).item<double>();
}

std::string IntensityNormalization::describe() const {
  std::ostringstream os;
  const std::string u = unipet::to_string(units);
  switch (mapping) {
    case IntensityMapping::Linear:
      os << u << " clipped to [0, " << clip_max << "], divided by " << clip_max;
      break;
    case IntensityMapping::Sqrt:
      os << "sqrt(" << u << " / " << scale << "), no clip";
      break;
    case IntensityMapping::Log:
      os << "log(1 + " << u << " / " << scale << "), no clip";
      break;
  }
  return os.str();
}

}  // namespace unipet::nn
