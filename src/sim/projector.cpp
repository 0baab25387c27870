#include "unipet/sim/projector.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "unipet/core/error.h"

namespace unipet::sim {

namespace {

constexpr double kFwhmPerSigma = 2.354820045030949;  // 2 sqrt(2 ln 2)

void check_float(const torch::Tensor& t, const char* what) {
  UNIPET_CHECK(t.defined(), "Projector: " << what << " is undefined");
  UNIPET_CHECK(t.scalar_type() == torch::kFloat32 || t.scalar_type() == torch::kFloat64,
               "Projector: " << what << " must be float32 or float64, got " << t.scalar_type());
}

/// Rows of the selected angles, each `D` values long, slice index fastest.
template <typename T>
void forward_kernel(const std::vector<int64_t>& row_start, const std::vector<int32_t>& column,
                    const std::vector<float>& weight, const std::vector<int64_t>& angle_list,
                    int64_t bins, int64_t slices, const T* image, T* sinogram) {
  const int64_t rows = static_cast<int64_t>(angle_list.size()) * bins;
  at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t matrix_row = angle_list[r / bins] * bins + r % bins;
      T* out = sinogram + r * slices;
      std::fill(out, out + slices, T(0));
      for (int64_t k = row_start[matrix_row]; k < row_start[matrix_row + 1]; ++k) {
        const T w = static_cast<T>(weight[k]);
        const T* in = image + static_cast<int64_t>(column[k]) * slices;
        for (int64_t d = 0; d < slices; ++d) out[d] += w * in[d];
      }
    }
  });
}

/// The transpose of forward_kernel with the same weights. Threads own slice ranges, so the
/// scatter into image columns never races and each voxel is summed in row order.
template <typename T>
void back_kernel(const std::vector<int64_t>& row_start, const std::vector<int32_t>& column,
                 const std::vector<float>& weight, const std::vector<int64_t>& angle_list,
                 int64_t bins, int64_t slices, const T* sinogram, T* image) {
  const int64_t rows = static_cast<int64_t>(angle_list.size()) * bins;
  at::parallel_for(0, slices, 1, [&](int64_t d0, int64_t d1) {
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t matrix_row = angle_list[r / bins] * bins + r % bins;
      const T* in = sinogram + r * slices;
      for (int64_t k = row_start[matrix_row]; k < row_start[matrix_row + 1]; ++k) {
        const T w = static_cast<T>(weight[k]);
        T* out = image + static_cast<int64_t>(column[k]) * slices;
        for (int64_t d = d0; d < d1; ++d) out[d] += w * in[d];
      }
    }
  });
}

/// 1D convolution of `volume` along `dim` with a symmetric kernel; beyond the edge the volume is
/// zero or its mirror image.
torch::Tensor convolve_along(const torch::Tensor& volume, const torch::Tensor& kernel, int64_t dim,
                             Edge edge = Edge::Zero) {
  const int64_t taps = kernel.size(0);
  if (taps == 1) return volume;
  const int64_t radius = taps / 2;
  const int64_t length = volume.size(dim);
  torch::Tensor out = torch::zeros_like(volume);
  auto k = kernel.accessor<double, 1>();
  if (edge == Edge::Mirror) {
    // Indices -radius .. length + radius - 1 folded back into the volume with period 2 * length,
    // so a kernel longer than the volume still reflects correctly.
    std::vector<int64_t> index(length + 2 * radius);
    for (int64_t i = 0; i < static_cast<int64_t>(index.size()); ++i) {
      int64_t m = (i - radius) % (2 * length);
      if (m < 0) m += 2 * length;
      index[i] = m < length ? m : 2 * length - 1 - m;
    }
    const torch::Tensor padded =
        volume.index_select(dim, torch::tensor(index, torch::kLong).to(volume.device()));
    for (int64_t offset = -radius; offset <= radius; ++offset) {
      out.add_(padded.narrow(dim, radius + offset, length), k[offset + radius]);
    }
    return out;
  }
  for (int64_t offset = -radius; offset <= radius; ++offset) {
    const int64_t overlap = length - std::abs(offset);
    if (overlap <= 0) continue;
    // out[i] += k[offset] * in[i + offset]
    out.narrow(dim, std::max<int64_t>(0, -offset), overlap)
        .add_(volume.narrow(dim, std::max<int64_t>(0, offset), overlap), k[offset + radius]);
  }
  return out;
}

/// Where a non-zero's TOF weights go: bins first .. first + span - 1 of its line, clamped into
/// the line's bins (the outer bins take the tails), with the table row for its sub-bin position.
struct TofPlace {
  int64_t first;
  const float* row;
};

constexpr int64_t kTofSteps = 256;  // table rows per TOF bin

inline TofPlace tof_place(float position, int64_t radius, int64_t span, const float* table) {
  const double cell = std::floor(static_cast<double>(position));
  const auto step = std::clamp<int64_t>(
      static_cast<int64_t>((position - cell) * kTofSteps), 0, kTofSteps - 1);
  return {static_cast<int64_t>(cell) - radius, table + step * span};
}

/// TOF forward: rows (angle, bin) of the selected angles, each `tof_bins` x `slices` values.
template <typename T>
void tof_forward_kernel(const std::vector<int64_t>& row_start, const std::vector<int32_t>& column,
                        const std::vector<float>& weight, const std::vector<float>& position,
                        const std::vector<float>& table, int64_t radius,
                        const std::vector<int64_t>& angle_list, int64_t bins, int64_t tof_bins,
                        int64_t slices, const T* image, T* sinogram) {
  const int64_t rows = static_cast<int64_t>(angle_list.size()) * bins;
  const int64_t span = 2 * radius + 1;
  at::parallel_for(0, rows, 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t matrix_row = angle_list[r / bins] * bins + r % bins;
      T* out = sinogram + r * tof_bins * slices;
      std::fill(out, out + tof_bins * slices, T(0));
      for (int64_t k = row_start[matrix_row]; k < row_start[matrix_row + 1]; ++k) {
        const TofPlace place = tof_place(position[k], radius, span, table.data());
        const T* in = image + static_cast<int64_t>(column[k]) * slices;
        for (int64_t j = 0; j < span; ++j) {
          const T w = static_cast<T>(weight[k] * place.row[j]);
          T* o = out + std::clamp<int64_t>(place.first + j, 0, tof_bins - 1) * slices;
          for (int64_t d = 0; d < slices; ++d) o[d] += w * in[d];
        }
      }
    }
  });
}

/// The transpose of tof_forward_kernel; threads own slice ranges as in back_kernel.
template <typename T>
void tof_back_kernel(const std::vector<int64_t>& row_start, const std::vector<int32_t>& column,
                     const std::vector<float>& weight, const std::vector<float>& position,
                     const std::vector<float>& table, int64_t radius,
                     const std::vector<int64_t>& angle_list, int64_t bins, int64_t tof_bins,
                     int64_t slices, const T* sinogram, T* image) {
  const int64_t rows = static_cast<int64_t>(angle_list.size()) * bins;
  const int64_t span = 2 * radius + 1;
  at::parallel_for(0, slices, 1, [&](int64_t d0, int64_t d1) {
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t matrix_row = angle_list[r / bins] * bins + r % bins;
      const T* in = sinogram + r * tof_bins * slices;
      for (int64_t k = row_start[matrix_row]; k < row_start[matrix_row + 1]; ++k) {
        const TofPlace place = tof_place(position[k], radius, span, table.data());
        T* out = image + static_cast<int64_t>(column[k]) * slices;
        for (int64_t j = 0; j < span; ++j) {
          const T w = static_cast<T>(weight[k] * place.row[j]);
          const T* i = in + std::clamp<int64_t>(place.first + j, 0, tof_bins - 1) * slices;
          for (int64_t d = d0; d < d1; ++d) out[d] += w * i[d];
        }
      }
    }
  });
}

}  // namespace

void ProjectorOptions::validate() const {
  UNIPET_CHECK(width > 0 && height > 0,
               "ProjectorOptions: image size must be positive, got " << width << " x " << height);
  UNIPET_CHECK(width * height < (int64_t{1} << 31),
               "ProjectorOptions: image slice too large (" << width << " x " << height << ")");
  for (double v : {voxel_x_mm, voxel_y_mm, voxel_z_mm}) {
    UNIPET_CHECK(std::isfinite(v) && v > 0, "ProjectorOptions: voxel size must be > 0 mm, got " << v);
  }
  UNIPET_CHECK(angles >= 0, "ProjectorOptions: angles must be >= 0 (0 = automatic), got " << angles);
  UNIPET_CHECK(bins >= 0, "ProjectorOptions: bins must be >= 0 (0 = automatic), got " << bins);
  UNIPET_CHECK(std::isfinite(bin_mm) && bin_mm >= 0,
               "ProjectorOptions: bin_mm must be >= 0 (0 = automatic), got " << bin_mm);
  UNIPET_CHECK(std::isfinite(psf_fwhm_mm) && psf_fwhm_mm >= 0 && std::isfinite(psf_axial_fwhm_mm) &&
                   psf_axial_fwhm_mm >= 0,
               "ProjectorOptions: PSF FWHM must be >= 0 mm");
  UNIPET_CHECK(std::isfinite(tof_fwhm_ps) && tof_fwhm_ps >= 0 && tof_fwhm_ps <= 5000,
               "--tof: timing resolution must be in [0, 5000] ps (0 = non-TOF), got " << tof_fwhm_ps);
  UNIPET_CHECK(std::isfinite(tof_bin_mm) && tof_bin_mm >= 0,
               "--tof-bin: TOF bin width must be >= 0 mm (0 = automatic), got " << tof_bin_mm);
  UNIPET_CHECK(tof_bins >= 0 && tof_bins <= 1000,
               "ProjectorOptions: TOF bins must be in [0, 1000] (0 = automatic), got " << tof_bins);
}

torch::Tensor gaussian_kernel(double fwhm_voxels) {
  UNIPET_CHECK(std::isfinite(fwhm_voxels) && fwhm_voxels >= 0,
               "gaussian_kernel: FWHM must be >= 0, got " << fwhm_voxels);
  const double sigma = fwhm_voxels / kFwhmPerSigma;
  const int64_t radius = static_cast<int64_t>(std::ceil(3.0 * sigma));
  if (sigma < 1e-6 || radius == 0) return torch::ones({1}, torch::kFloat64);
  torch::Tensor x = torch::arange(-radius, radius + 1, torch::kFloat64);
  torch::Tensor k = torch::exp(-0.5 * (x / sigma).pow(2));
  return k / k.sum();
}

torch::Tensor gaussian_filter(const torch::Tensor& volume, double fwhm_x_mm, double fwhm_y_mm,
                              double fwhm_z_mm, double voxel_x_mm, double voxel_y_mm,
                              double voxel_z_mm, Edge edge) {
  UNIPET_CHECK(volume.defined() && volume.dim() == 3,
               "gaussian_filter: expected a [D, H, W] volume, got " << volume.sizes());
  torch::Tensor out = volume;
  out = convolve_along(out, gaussian_kernel(fwhm_x_mm / voxel_x_mm), 2, edge);
  out = convolve_along(out, gaussian_kernel(fwhm_y_mm / voxel_y_mm), 1, edge);
  out = convolve_along(out, gaussian_kernel(fwhm_z_mm / voxel_z_mm), 0, edge);
  return out;
}

torch::Tensor gaussian_filter_along(const torch::Tensor& tensor, double fwhm_samples, int64_t dim,
                                    Edge edge) {
  UNIPET_CHECK(tensor.defined() && dim >= 0 && dim < tensor.dim(),
               "gaussian_filter_along: dimension " << dim << " out of range for " << tensor.sizes());
  return convolve_along(tensor, gaussian_kernel(fwhm_samples), dim, edge);
}

Projector::Projector(ProjectorOptions options) : options_(options) {
  options_.validate();
  ProjectorOptions& o = options_;
  if (o.bin_mm == 0) o.bin_mm = std::min(o.voxel_x_mm, o.voxel_y_mm);
  if (o.bins == 0) {
    const double extent = std::max(o.width * o.voxel_x_mm, o.height * o.voxel_y_mm);
    o.bins = static_cast<int64_t>(std::ceil(extent / o.bin_mm - 1e-9));
  }
  if (o.angles == 0) o.angles = std::max(o.width, o.height);
  const bool tof = o.tof_fwhm_ps > 0;
  if (tof) {
    if (o.tof_bin_mm == 0) o.tof_bin_mm = 0.5 * kTofMmPerPs * o.tof_fwhm_ps;
    if (o.tof_bins == 0) {
      const double chord = std::hypot(o.width * o.voxel_x_mm, o.height * o.voxel_y_mm);
      o.tof_bins = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(chord / o.tof_bin_mm - 1e-9)));
    }
  } else {
    o.tof_bin_mm = 0;
    o.tof_bins = 0;
  }
  // TOF positions are stored in bins from the lower edge of the first TOF bin.
  const double tof_origin = tof ? -0.5 * o.tof_bins * o.tof_bin_mm : 0.0;
  const double tof_scale = tof ? 1.0 / o.tof_bin_mm : 0.0;

  const int64_t W = o.width, H = o.height;
  const double cx = (W - 1) / 2.0, cy = (H - 1) / 2.0;
  const double dx = o.voxel_x_mm, dy = o.voxel_y_mm;
  row_start_.reserve(o.angles * o.bins + 1);
  row_start_.push_back(0);
  auto add = [&](int64_t column, double w, double t) {
    if (w > 0) {
      column_.push_back(static_cast<int32_t>(column));
      weight_.push_back(static_cast<float>(w));
      if (tof) tof_position_.push_back(static_cast<float>((t - tof_origin) * tof_scale));
    }
  };
  // Joseph's method: step one voxel at a time along the axis the line is closest to and
  // interpolate linearly across the other; the weight is the path length per step.
  for (int64_t a = 0; a < o.angles; ++a) {
    const double theta = M_PI * static_cast<double>(a) / static_cast<double>(o.angles);
    const double c = std::cos(theta), s = std::sin(theta);
    for (int64_t b = 0; b < o.bins; ++b) {
      const double offset = (static_cast<double>(b) - (o.bins - 1) / 2.0) * o.bin_mm;
      // Points of the line: offset * (c, s) + t * (-s, c).
      if (std::abs(c) >= std::abs(s)) {
        const double step = dy / std::abs(c);
        for (int64_t j = 0; j < H; ++j) {
          const double y = (j - cy) * dy;
          const double t = (y - offset * s) / c;
          const double fx = (offset * c - t * s) / dx + cx;
          const double i0 = std::floor(fx), f = fx - i0;
          const auto i = static_cast<int64_t>(i0);
          if (i >= 0 && i < W) add(j * W + i, step * (1 - f), t);
          if (i + 1 >= 0 && i + 1 < W) add(j * W + i + 1, step * f, t);
        }
      } else {
        const double step = dx / std::abs(s);
        for (int64_t i = 0; i < W; ++i) {
          const double x = (i - cx) * dx;
          const double t = (offset * c - x) / s;
          const double fy = (offset * s + t * c) / dy + cy;
          const double j0 = std::floor(fy), f = fy - j0;
          const auto j = static_cast<int64_t>(j0);
          if (j >= 0 && j < H) add(j * W + i, step * (1 - f), t);
          if (j + 1 >= 0 && j + 1 < H) add((j + 1) * W + i, step * f, t);
        }
      }
      row_start_.push_back(static_cast<int64_t>(column_.size()));
    }
  }
  psf_radial_ = gaussian_kernel(o.psf_fwhm_mm / o.bin_mm);
  psf_axial_ = gaussian_kernel(o.psf_axial_fwhm_mm / o.voxel_z_mm);
  if (tof) build_tof_table();
}

void Projector::build_tof_table() {
  // sigma in TOF bins; 3 sigma either side keeps all but 0.3% of the kernel, which the
  // renormalisation gives back to the kept bins.
  const double sigma = kTofMmPerPs * options_.tof_fwhm_ps / kFwhmPerSigma / options_.tof_bin_mm;
  tof_radius_ = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3.0 * sigma)));
  const int64_t span = 2 * tof_radius_ + 1;
  tof_table_.assign(kTofSteps * span, 0.0f);
  auto cdf = [&](double x) { return 0.5 * std::erfc(-x / (sigma * std::sqrt(2.0))); };
  for (int64_t q = 0; q < kTofSteps; ++q) {
    const double f = (static_cast<double>(q) + 0.5) / kTofSteps;  // position within its bin
    std::vector<double> p(span);
    double sum = 0;
    for (int64_t j = 0; j < span; ++j) {
      const double lo = static_cast<double>(j - tof_radius_) - f;  // bin edges relative to the event
      p[j] = cdf(lo + 1) - cdf(lo);
      sum += p[j];
    }
    for (int64_t j = 0; j < span; ++j) tof_table_[q * span + j] = static_cast<float>(p[j] / sum);
  }
}

std::vector<int64_t> Projector::sinogram_shape(int64_t slices, int64_t angles) const {
  if (tof()) return {slices, angles, options_.bins, options_.tof_bins};
  return {slices, angles, options_.bins};
}

int64_t Projector::nonzeros() const { return static_cast<int64_t>(column_.size()); }

std::vector<int64_t> Projector::all_angles() const {
  std::vector<int64_t> list(options_.angles);
  for (int64_t a = 0; a < options_.angles; ++a) list[a] = a;
  return list;
}

torch::Tensor Projector::blur_sinogram(const torch::Tensor& sinogram) const {
  check_float(sinogram, "sinogram");
  UNIPET_CHECK((sinogram.dim() == 3 || sinogram.dim() == 4) && sinogram.size(2) == options_.bins,
               "Projector: expected a sinogram [D, angles, " << options_.bins << "(, TOF)], got "
                                                             << sinogram.sizes());
  return convolve_along(convolve_along(sinogram, psf_radial_, 2), psf_axial_, 0);
}

torch::Tensor Projector::project(const torch::Tensor& image, const std::vector<int64_t>& angle_list,
                                 bool with_tof) const {
  check_float(image, "image");
  UNIPET_CHECK(image.dim() == 3 && image.size(1) == options_.height && image.size(2) == options_.width,
               "Projector: expected an image [D, " << options_.height << ", " << options_.width
                                                   << "], got " << image.sizes());
  for (int64_t a : angle_list) {
    UNIPET_CHECK(a >= 0 && a < options_.angles, "Projector: angle index " << a << " out of range");
  }
  const int64_t D = image.size(0), B = options_.bins, n = static_cast<int64_t>(angle_list.size());
  const int64_t T = with_tof ? tof_bins() : 1;
  // Slice index innermost: [H * W, D].
  torch::Tensor x = image.to(torch::kCPU).permute({1, 2, 0}).reshape({-1, D}).contiguous();
  torch::Tensor y = torch::empty({n * B * T, D}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "Projector::forward", [&] {
    if (with_tof && tof()) {
      tof_forward_kernel<scalar_t>(row_start_, column_, weight_, tof_position_, tof_table_,
                                   tof_radius_, angle_list, B, T, D, x.data_ptr<scalar_t>(),
                                   y.data_ptr<scalar_t>());
    } else {
      forward_kernel<scalar_t>(row_start_, column_, weight_, angle_list, B, D,
                               x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>());
    }
  });
  if (with_tof && tof()) {
    return y.reshape({n, B, T, D}).permute({3, 0, 1, 2}).contiguous().to(image.device());
  }
  return y.reshape({n, B, D}).permute({2, 0, 1}).contiguous().to(image.device());
}

torch::Tensor Projector::backproject(const torch::Tensor& sinogram,
                                     const std::vector<int64_t>& angle_list) const {
  check_float(sinogram, "sinogram");
  const int64_t n = static_cast<int64_t>(angle_list.size()), B = options_.bins;
  // A 3D sinogram on a TOF projector is TOF-summed data: its adjoint is the non-TOF one.
  const bool with_tof = tof() && sinogram.dim() == 4;
  std::vector<int64_t> shape = sinogram_shape(sinogram.dim() > 0 ? sinogram.size(0) : 0, n);
  if (!with_tof) shape.resize(3);
  UNIPET_CHECK(sinogram.sizes() == at::IntArrayRef(shape),
               "Projector: expected a sinogram " << at::IntArrayRef(shape) << ", got "
                                                 << sinogram.sizes());
  for (int64_t a : angle_list) {
    UNIPET_CHECK(a >= 0 && a < options_.angles, "Projector: angle index " << a << " out of range");
  }
  const int64_t D = sinogram.size(0), T = with_tof ? tof_bins() : 1;
  torch::Tensor y = (with_tof ? sinogram.to(torch::kCPU).permute({1, 2, 3, 0})
                           : sinogram.to(torch::kCPU).permute({1, 2, 0}))
                        .reshape({-1, D})
                        .contiguous();
  torch::Tensor x = torch::zeros({options_.height * options_.width, D}, y.options());
  AT_DISPATCH_FLOATING_TYPES(y.scalar_type(), "Projector::back", [&] {
    if (with_tof) {
      tof_back_kernel<scalar_t>(row_start_, column_, weight_, tof_position_, tof_table_, tof_radius_,
                                angle_list, B, T, D, y.data_ptr<scalar_t>(), x.data_ptr<scalar_t>());
    } else {
      back_kernel<scalar_t>(row_start_, column_, weight_, angle_list, B, D, y.data_ptr<scalar_t>(),
                            x.data_ptr<scalar_t>());
    }
  });
  return x.reshape({options_.height, options_.width, D})
      .permute({2, 0, 1})
      .contiguous()
      .to(sinogram.device());
}

torch::Tensor Projector::forward(const torch::Tensor& image) const {
  return forward(image, all_angles());
}

torch::Tensor Projector::back(const torch::Tensor& sinogram) const {
  return back(sinogram, all_angles());
}

torch::Tensor Projector::forward(const torch::Tensor& image,
                                 const std::vector<int64_t>& angle_list) const {
  return blur_sinogram(project(image, angle_list, true));
}

torch::Tensor Projector::back(const torch::Tensor& sinogram,
                              const std::vector<int64_t>& angle_list) const {
  return backproject(blur_sinogram(sinogram), angle_list);
}

torch::Tensor Projector::forward_summed(const torch::Tensor& image,
                                        const std::vector<int64_t>& angle_list) const {
  return blur_sinogram(project(image, angle_list, false));
}

torch::Tensor Projector::line_integrals(const torch::Tensor& image) const {
  return project(image, all_angles(), false);
}

}  // namespace unipet::sim
