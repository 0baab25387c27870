#pragma once
/// How a model maps PET values to network values and back: the one place where that happens, for
/// training (sampler, losses, validation) and inference alike. Stored in every model file.
///
///   nn::IntensityNormalization n;                    // the reference: SUV clipped to [0, 20], ÷ 20
///   n.mapping = nn::IntensityMapping::Sqrt;          // or Log: no clip, hot organs stay in range
///   torch::Tensor y = n.normalize(suv);              // network values
///   torch::Tensor back = n.denormalize(y) + n.clipped_part(suv);   // == suv exactly
///
/// Mappings (x in `units`, s = scale):
///   linear  y = clamp(x, 0, clip_max) / clip_max       (the authors' code; the parity tests use it)
///   sqrt    y = sign(x) · sqrt(|x| / s)                 (variance-stabilising for Poisson-like noise)
///   log     y = sign(x) · log(1 + |x| / s)              (compresses a 60-SUV bladder to 4.1 at s = 1)
/// The sqrt and log mappings clip nothing and are exactly invertible on every real value; the
/// linear one loses what lies outside [0, clip_max], which clipped_part returns so that inference
/// can pass it through.
#include <string>

#include <torch/torch.h>

#include "unipet/core/volume.h"

namespace unipet::nn {

enum class IntensityMapping { Linear, Sqrt, Log };

/// "linear", "sqrt", "log".
std::string to_string(IntensityMapping mapping);
/// Inverse of to_string; throws unipet::Error naming `option` on anything else.
IntensityMapping intensity_mapping_from_string(const std::string& text, const std::string& option);

struct IntensityNormalization {
  Units units = Units::SUV;  ///< units the model expects its input in
  double clip_max = 20.0;    ///< linear: values are clipped to [0, clip_max] then divided by it
  IntensityMapping mapping = IntensityMapping::Linear;
  double scale = 20.0;       ///< sqrt and log: the s above, in `units`

  /// Throws unipet::Error unless clip_max and scale are finite and positive.
  void validate() const;
  torch::Tensor normalize(const torch::Tensor& x) const;
  /// Inverse of normalize (exact for sqrt and log; on [0, 1] for linear). The network output is
  /// never clipped.
  torch::Tensor denormalize(const torch::Tensor& y) const;
  /// x − denormalize(normalize(x)): what the mapping cannot represent (zero for sqrt and log).
  torch::Tensor clipped_part(const torch::Tensor& x) const;
  /// normalize of one value in `units` (thresholds such as "SUV above 0.1").
  double normalize_value(double x) const;
  /// One line for people: "SUV clipped to [0, 20], divided by 20", "sqrt(SUV / 20), no clip".
  std::string describe() const;
};

}  // namespace unipet::nn
