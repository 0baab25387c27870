#pragma once
/// The scanner: its options, detector efficiencies and projector. The expected counts of an
/// acquisition are modelled by sim/acquisition.h (model_acquisition), the one data model.
///
///   unipet::sim::ScannerOptions o;                              // clinical whole-body FDG defaults
///   unipet::sim::Projector p = unipet::sim::make_projector(o, phantom.activity);
///
/// Efficiencies n: crystal-pair and per-ring factors, 1 when normalisation is off. Scatter and
/// randoms totals follow the fractions scatter / (trues + scatter) and randoms / prompts.
///
/// Count calibration: a clinical whole-body FDG study (about 3.7 MBq/kg, 60 min uptake, 2-3 min
/// per bed) records on the order of 1e8 - 3e8 prompts over a 40 cm axial extent; the default of
/// 2e8 prompts per study sits in that range and is configurable.
#include <cstdint>
#include <utility>

#include <torch/torch.h>

#include "unipet/core/volume.h"
#include "unipet/sim/projector.h"

namespace unipet::sim {

struct ScannerOptions {
  int64_t angles = 0;               ///< sinogram angles over 180 degrees (0 = image width)
  int64_t bins = 0;                 ///< radial bins (0 = cover the image)
  double bin_mm = 0.0;              ///< radial bin width (0 = transaxial voxel size)
  double psf_fwhm_mm = 4.5;         ///< transaxial resolution
  double psf_axial_fwhm_mm = 4.5;   ///< axial resolution
  double ring_diameter_mm = 820.0;  ///< detector ring; must enclose the sinogram's radial extent
  bool normalisation = true;        ///< simulate (and correct for) detector efficiencies
  double efficiency_spread = 0.1;   ///< relative SD of crystal efficiencies
  double ring_efficiency_spread = 0.03;  ///< relative SD of per-slice (ring) efficiencies
  double scatter_fraction = 0.30;   ///< scatter / (trues + scatter)
  double randoms_fraction = 0.20;   ///< randoms / prompts
  double scatter_fwhm_mm = 200.0;   ///< smoothness of the scatter distribution
  double prompts = 2e8;             ///< expected full-dose prompts in the whole study
  double tof_fwhm_ps = 0;           ///< coincidence timing resolution (0 = non-TOF; clinical
                                    ///< scanners 214-600 ps)
  double tof_bin_mm = 0;            ///< TOF bin width along the line (0 = half the TOF FWHM)

  /// Throws unipet::Error naming the first invalid option.
  void validate() const;
};

/// Crystal efficiencies (2 x angles, float64) and ring efficiencies (one per slice) drawn from
/// `seed`; all ones without normalisation.
std::pair<torch::Tensor, torch::Tensor> detector_efficiencies(const Projector& projector,
                                                              int64_t slices,
                                                              const ScannerOptions& options,
                                                              uint64_t seed);

/// Line-of-response efficiencies [D, angles, bins]: the product of the two crystals' efficiencies
/// (found where the line meets the ring) times the ring's (slice's) own.
torch::Tensor pair_efficiencies(const Projector& projector, const torch::Tensor& crystal,
                                const torch::Tensor& ring, double ring_diameter_mm);

/// The projector for `like`'s grid (transaxial spacing from spacing[0..1], axial from spacing[2]).
Projector make_projector(const ScannerOptions& options, const Volume& like);

}  // namespace unipet::sim
