#pragma once
/// The Gaussian post-filter baseline: what a clinic does to a low-dose image instead of a network,
/// with its width tuned on training pairs so the comparison is fair.
///
///   auto search = unipet::eval::best_gaussian_fwhm(train_pairs);        // {low dose, full dose}
///   unipet::Volume baseline = unipet::gaussian_filter(low_dose, search.best_fwhm_mm);
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "unipet/core/gaussian_filter.h"
#include "unipet/core/volume.h"

namespace unipet::eval {

struct FwhmSearch {
  double best_fwhm_mm = 0;                       ///< the FWHM with the highest mean PSNR
  double best_psnr = 0;                          ///< that mean PSNR (dB)
  std::vector<std::pair<double, double>> tried;  ///< every (fwhm mm, mean PSNR dB), by fwhm
};

/// The FWHM in [0, max_fwhm_mm] maximising the mean over pairs of
/// psnr_in(full dose, gaussian_filter(low dose, fwhm), masks[i], data_range): a grid of 16 evenly
/// spaced widths from 0 to max_fwhm_mm, then golden-section search in the two grid cells around
/// the best grid point down to a 0.05 mm bracket. `masks` is empty (whole volumes) or one mask
/// per pair (see metrics.h; an undefined entry is the whole volume). Throws unipet::Error on no
/// pairs, a pair whose volumes differ in geometry, a masks list of the wrong length, or
/// non-positive data_range / max_fwhm_mm.
FwhmSearch best_gaussian_fwhm(const std::vector<std::pair<Volume, Volume>>& lowdose_fulldose_pairs,
                              double data_range = 20.0, double max_fwhm_mm = 15.0,
                              const std::vector<torch::Tensor>& masks = {});

}  // namespace unipet::eval
