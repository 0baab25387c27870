#pragma once
/// A 2D-per-slice ray-driven (Joseph) PET projector with resolution modelling and an exact adjoint.
///
///   unipet::sim::ProjectorOptions o;            // 128 x 128 voxels of 4 mm, 128 angles x 128 bins
///   unipet::sim::Projector p(o);                // builds the system matrix once (STIR's set_up)
///   torch::Tensor sino = p.forward(image);      // [D, H, W] -> [D, angles, bins]
///   torch::Tensor back = p.back(sino);          // [D, angles, bins] -> [D, H, W], exactly A^T
///
/// Geometry: every slice (index d of [D, H, W]) is an independent 2D parallel-beam sinogram, the
/// image is centred on the scanner axis, W runs along x and H along y. Angle a is
/// theta_a = a * pi / angles; bin b is the signed distance s_b = (b - (bins - 1) / 2) * bin_mm of
/// the line x cos(theta) + y sin(theta) = s_b from the axis. Projections are line integrals in mm
/// (image value x mm), so projecting a mu-map in 1/mm gives attenuation exponents directly.
///
/// Resolution model: a Gaussian blur of the sinogram along the radial bins (transaxial FWHM) and
/// across slices (axial FWHM). For a shift-invariant isotropic Gaussian PSF this equals blurring
/// the image (the projection of a 2D Gaussian is the same 1D Gaussian), costs a fraction of it on
/// OSEM subsets, and, being a symmetric zero-padded convolution, keeps the adjoint exact.
///
/// The system matrix of one slice is the same for every slice, so it is stored once as a sparse
/// row-per-line matrix and applied to all slices together with the slice index innermost, which
/// vectorises over slices and streams the matrix once per call. Forward and back use the very same
/// stored weights, so <A x, y> = <x, A^T y> holds to rounding. Work is split with at::parallel_for
/// (rows for forward, slices for back) and every output element is summed by one thread in a fixed
/// order, so results do not depend on the number of threads. Computation runs on the CPU; inputs
/// on another device are copied there and results returned on the input's device.
#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace unipet::sim {

struct ProjectorOptions {
  int64_t width = 128;          ///< W, voxels along x
  int64_t height = 128;         ///< H, voxels along y
  double voxel_x_mm = 4.0;      ///< spacing along W
  double voxel_y_mm = 4.0;      ///< spacing along H
  double voxel_z_mm = 4.0;      ///< spacing along D (only used by the axial PSF)
  int64_t angles = 0;           ///< projection angles over [0, pi); 0 = max(W, H)
  int64_t bins = 0;             ///< radial bins; 0 = enough to cover the image's width and height
  double bin_mm = 0.0;          ///< radial bin width; 0 = the smaller transaxial voxel size
  double psf_fwhm_mm = 4.5;     ///< transaxial Gaussian resolution model (0 = none)
  double psf_axial_fwhm_mm = 4.5;  ///< axial Gaussian resolution model (0 = none)
  double tof_fwhm_ps = 0.0;     ///< coincidence timing resolution, FWHM (0 = non-TOF)
  double tof_bin_mm = 0.0;      ///< TOF bin width along the line; 0 = half the TOF FWHM in mm
  int64_t tof_bins = 0;         ///< TOF bins; 0 = enough to cover the longest chord of the image

  /// Throws unipet::Error naming the first invalid option.
  void validate() const;
};

class Projector {
 public:
  /// Validates `options`, resolves the automatic values and builds the system matrix.
  explicit Projector(ProjectorOptions options);

  /// The options with automatic values (angles, bins, bin_mm) resolved.
  const ProjectorOptions& options() const { return options_; }
  int64_t angles() const { return options_.angles; }
  int64_t bins() const { return options_.bins; }
  bool tof() const { return options_.tof_fwhm_ps > 0; }
  /// TOF bins per line (1 without TOF).
  int64_t tof_bins() const { return tof() ? options_.tof_bins : 1; }
  /// The sinogram shape for `slices` slices and `angles` angles: [D, A, B] or [D, A, B, T].
  std::vector<int64_t> sinogram_shape(int64_t slices, int64_t angles) const;
  /// Stored non-zeros of the single-slice system matrix.
  int64_t nonzeros() const;

  /// Blurred line integrals: image [D, H, W] (float32 or float64) -> sinogram [D, angles, bins]
  /// ([D, angles, bins, tof_bins] with TOF).
  torch::Tensor forward(const torch::Tensor& image) const;
  /// Exact adjoint of forward: sinogram [D, angles, bins] -> image [D, H, W].
  torch::Tensor back(const torch::Tensor& sinogram) const;

  /// forward restricted to the listed angle indices: -> [D, angle_list.size(), bins], rows in list
  /// order (OSEM subsets).
  torch::Tensor forward(const torch::Tensor& image, const std::vector<int64_t>& angle_list) const;
  /// Exact adjoint of the subset forward. On a TOF projector a [D, n, bins] sinogram is taken as
  /// TOF-summed data and gets the adjoint of forward_summed.
  torch::Tensor back(const torch::Tensor& sinogram, const std::vector<int64_t>& angle_list) const;

  /// The forward projection summed over TOF bins, [D, n, bins]: the non-TOF projection (equal to
  /// forward without TOF, and computed without the TOF bins).
  torch::Tensor forward_summed(const torch::Tensor& image, const std::vector<int64_t>& angle_list) const;

  /// Line integrals without the resolution model and without TOF (for attenuation: project mu
  /// in 1/mm): [D, angles, bins].
  torch::Tensor line_integrals(const torch::Tensor& image) const;

  /// The resolution model alone (symmetric, so its own adjoint): [D, n, bins(, tof_bins)] -> same.
  torch::Tensor blur_sinogram(const torch::Tensor& sinogram) const;

 private:
  torch::Tensor project(const torch::Tensor& image, const std::vector<int64_t>& angle_list,
                        bool with_tof) const;
  torch::Tensor backproject(const torch::Tensor& sinogram,
                            const std::vector<int64_t>& angle_list) const;
  std::vector<int64_t> all_angles() const;
  void build_tof_table();

  ProjectorOptions options_;
  // CSR of one slice: rows angle * bins + bin, columns y * W + x, weights in mm.
  std::vector<int64_t> row_start_;
  std::vector<int32_t> column_;
  std::vector<float> weight_;
  // TOF: each non-zero's position along its line, in TOF bins from the first bin's lower edge,
  // and the bin probabilities by sub-bin position: table_[step * span + j] for bins
  // floor(position) - radius + j.
  std::vector<float> tof_position_;
  std::vector<float> tof_table_;
  int64_t tof_radius_ = 0;
  torch::Tensor psf_radial_, psf_axial_;  // 1D normalised Gaussian kernels (double)
};

/// A normalised, symmetric 1D Gaussian kernel (float64) with the given FWHM in voxels, truncated
/// at 3 sigma; a single 1 when fwhm_voxels is 0.
torch::Tensor gaussian_kernel(double fwhm_voxels);

/// How a filter sees beyond the volume's edge.
enum class Edge {
  Zero,    ///< zeros: a symmetric operator (resolution models, adjoints); darkens the border
  Mirror,  ///< the volume reflected at its edge (d c b a | a b c d): a constant stays constant,
           ///< as scanners' post-filters do
};

/// Separable Gaussian filter of a [D, H, W] volume with FWHMs in mm along (x, y, z) and voxel
/// sizes in mm.
torch::Tensor gaussian_filter(const torch::Tensor& volume, double fwhm_x_mm, double fwhm_y_mm,
                              double fwhm_z_mm, double voxel_x_mm, double voxel_y_mm,
                              double voxel_z_mm, Edge edge = Edge::Zero);

/// Gaussian filter of `tensor` along one dimension (FWHM in samples) with the given edge.
torch::Tensor gaussian_filter_along(const torch::Tensor& tensor, double fwhm_samples, int64_t dim,
                                    Edge edge = Edge::Zero);

/// Speed of light over two: mm of position along a line per ps of timing difference.
constexpr double kTofMmPerPs = 0.299792458 / 2.0;

}  // namespace unipet::sim
