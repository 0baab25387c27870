#pragma once
/// How a model maps PET values to network inputs: clip to [0, clip_max] in `units`, divide by
/// clip_max (the reference: SUV clipped to [0, 20], divided by 20). Stored in every model file so
/// inference applies the same mapping the model was trained with.
#include <torch/torch.h>

#include "unipet/core/volume.h"

namespace unipet::nn {

struct IntensityNormalization {
  Units units = Units::SUV;  ///< units the model expects its input in
  double clip_max = 20.0;    ///< values are clipped to [0, clip_max] then divided by it

  /// Throws unipet::Error unless clip_max is finite and positive.
  void validate() const;
  torch::Tensor normalize(const torch::Tensor& x) const;
  /// Inverse of normalize on [0, 1] (no clipping of the network output).
  torch::Tensor denormalize(const torch::Tensor& y) const;
};

}  // namespace unipet::nn
