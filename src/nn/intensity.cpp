#include "unipet/nn/intensity.h"

#include <cmath>

#include "unipet/core/error.h"

namespace unipet::nn {

void IntensityNormalization::validate() const {
  UNIPET_CHECK(std::isfinite(clip_max) && clip_max > 0,
               "intensity normalisation: clip_max must be positive, got " << clip_max);
}

torch::Tensor IntensityNormalization::normalize(const torch::Tensor& x) const {
  return x.clamp(0.0, clip_max) / clip_max;
}

torch::Tensor IntensityNormalization::denormalize(const torch::Tensor& y) const { return y * clip_max; }

}  // namespace unipet::nn
