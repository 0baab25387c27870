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

/// Zero-padded 1D convolution of `volume` along `dim` with a symmetric kernel.
torch::Tensor convolve_along(const torch::Tensor& volume, const torch::Tensor& kernel, int64_t dim) {
  const int64_t taps = kernel.size(0);
  if (taps == 1) return volume;
  const int64_t radius = taps / 2;
  const int64_t length = volume.size(dim);
  torch::Tensor out = torch::zeros_like(volume);
  auto k = kernel.accessor<double, 1>();
  for (int64_t offset = -radius; offset <= radius; ++offset) {
    const int64_t overlap = length - std::abs(offset);
    if (overlap <= 0) continue;
    // out[i] += k[offset] * in[i + offset]
    out.narrow(dim, std::max<int64_t>(0, -offset), overlap)
        .add_(volume.narrow(dim, std::max<int64_t>(0, offset), overlap), k[offset + radius]);
  }
  return out;
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
                              double voxel_z_mm) {
  UNIPET_CHECK(volume.defined() && volume.dim() == 3,
               "gaussian_filter: expected a [D, H, W] volume, got " << volume.sizes());
  torch::Tensor out = volume;
  out = convolve_along(out, gaussian_kernel(fwhm_x_mm / voxel_x_mm), 2);
  out = convolve_along(out, gaussian_kernel(fwhm_y_mm / voxel_y_mm), 1);
  out = convolve_along(out, gaussian_kernel(fwhm_z_mm / voxel_z_mm), 0);
  return out;
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

  const int64_t W = o.width, H = o.height;
  const double cx = (W - 1) / 2.0, cy = (H - 1) / 2.0;
  const double dx = o.voxel_x_mm, dy = o.voxel_y_mm;
  row_start_.reserve(o.angles * o.bins + 1);
  row_start_.push_back(0);
  auto add = [&](int64_t column, double w) {
    if (w > 0) {
      column_.push_back(static_cast<int32_t>(column));
      weight_.push_back(static_cast<float>(w));
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
          if (i >= 0 && i < W) add(j * W + i, step * (1 - f));
          if (i + 1 >= 0 && i + 1 < W) add(j * W + i + 1, step * f);
        }
      } else {
        const double step = dx / std::abs(s);
        for (int64_t i = 0; i < W; ++i) {
          const double x = (i - cx) * dx;
          const double t = (offset * c - x) / s;
          const double fy = (offset * s + t * c) / dy + cy;
          const double j0 = std::floor(fy), f = fy - j0;
          const auto j = static_cast<int64_t>(j0);
          if (j >= 0 && j < H) add(j * W + i, step * (1 - f));
          if (j + 1 >= 0 && j + 1 < H) add((j + 1) * W + i, step * f);
        }
      }
      row_start_.push_back(static_cast<int64_t>(column_.size()));
    }
  }
  psf_radial_ = gaussian_kernel(o.psf_fwhm_mm / o.bin_mm);
  psf_axial_ = gaussian_kernel(o.psf_axial_fwhm_mm / o.voxel_z_mm);
}

int64_t Projector::nonzeros() const { return static_cast<int64_t>(column_.size()); }

std::vector<int64_t> Projector::all_angles() const {
  std::vector<int64_t> list(options_.angles);
  for (int64_t a = 0; a < options_.angles; ++a) list[a] = a;
  return list;
}

torch::Tensor Projector::blur_sinogram(const torch::Tensor& sinogram) const {
  check_float(sinogram, "sinogram");
  UNIPET_CHECK(sinogram.dim() == 3 && sinogram.size(2) == options_.bins,
               "Projector: expected a sinogram [D, angles, " << options_.bins << "], got "
                                                             << sinogram.sizes());
  return convolve_along(convolve_along(sinogram, psf_radial_, 2), psf_axial_, 0);
}

torch::Tensor Projector::project(const torch::Tensor& image,
                                 const std::vector<int64_t>& angle_list) const {
  check_float(image, "image");
  UNIPET_CHECK(image.dim() == 3 && image.size(1) == options_.height && image.size(2) == options_.width,
               "Projector: expected an image [D, " << options_.height << ", " << options_.width
                                                   << "], got " << image.sizes());
  for (int64_t a : angle_list) {
    UNIPET_CHECK(a >= 0 && a < options_.angles, "Projector: angle index " << a << " out of range");
  }
  const int64_t D = image.size(0), B = options_.bins, n = static_cast<int64_t>(angle_list.size());
  // Slice index innermost: [H * W, D].
  torch::Tensor x = image.to(torch::kCPU).permute({1, 2, 0}).reshape({-1, D}).contiguous();
  torch::Tensor y = torch::empty({n * B, D}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "Projector::forward", [&] {
    forward_kernel<scalar_t>(row_start_, column_, weight_, angle_list, B, D,
                             x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>());
  });
  return y.reshape({n, B, D}).permute({2, 0, 1}).contiguous().to(image.device());
}

torch::Tensor Projector::backproject(const torch::Tensor& sinogram,
                                     const std::vector<int64_t>& angle_list) const {
  check_float(sinogram, "sinogram");
  const int64_t n = static_cast<int64_t>(angle_list.size()), B = options_.bins;
  UNIPET_CHECK(sinogram.dim() == 3 && sinogram.size(1) == n && sinogram.size(2) == B,
               "Projector: expected a sinogram [D, " << n << ", " << B << "], got "
                                                     << sinogram.sizes());
  for (int64_t a : angle_list) {
    UNIPET_CHECK(a >= 0 && a < options_.angles, "Projector: angle index " << a << " out of range");
  }
  const int64_t D = sinogram.size(0);
  torch::Tensor y = sinogram.to(torch::kCPU).permute({1, 2, 0}).reshape({-1, D}).contiguous();
  torch::Tensor x = torch::zeros({options_.height * options_.width, D}, y.options());
  AT_DISPATCH_FLOATING_TYPES(y.scalar_type(), "Projector::back", [&] {
    back_kernel<scalar_t>(row_start_, column_, weight_, angle_list, B, D, y.data_ptr<scalar_t>(),
                          x.data_ptr<scalar_t>());
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
  return blur_sinogram(project(image, angle_list));
}

torch::Tensor Projector::back(const torch::Tensor& sinogram,
                              const std::vector<int64_t>& angle_list) const {
  return backproject(blur_sinogram(sinogram), angle_list);
}

torch::Tensor Projector::line_integrals(const torch::Tensor& image) const {
  return project(image, all_angles());
}

}  // namespace unipet::sim
