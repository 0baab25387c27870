#include "unipet/report/figures.h"

#include <algorithm>
#include <cmath>

#include "unipet/core/error.h"
#include "unipet/report/png.h"

namespace unipet::report {
namespace {

namespace F = torch::nn::functional;

constexpr int kMaxPx = 8192;

// Axis flips that bring a volume to the LPS index order the pictures assume (x toward the
// patient's left, y toward posterior, z toward superior). Obliquity is ignored (a tilted
// gantry is drawn in its nearest orientation); permuted axes would put the wrong anatomy on the
// screen, so they are refused.
std::array<bool, 3> flips_to_lps(const Volume& volume, const std::string& what) {
  std::array<bool, 3> flip{};
  for (int axis = 0; axis < 3; ++axis) {
    int dominant = 0;
    for (int row = 1; row < 3; ++row) {
      // Column `axis` of the row-major direction matrix is the world direction of that index axis.
      if (std::abs(volume.direction[row * 3 + axis]) > std::abs(volume.direction[dominant * 3 + axis])) {
        dominant = row;
      }
    }
    UNIPET_CHECK(dominant == axis, what << ": index axis " << axis << " runs along world axis " << dominant
                                        << "; reorient the volume to x, y, z order before drawing it");
    flip[axis] = volume.direction[axis * 3 + axis] < 0;
  }
  return flip;
}

void check_volume(const Volume& volume, const std::string& what) {
  UNIPET_CHECK(volume.data.defined(), what << ": volume has no data");
  volume.validate(what);
}

void check_max_px(int max_px, const std::string& what) {
  UNIPET_CHECK(max_px >= 1 && max_px <= kMaxPx,
               what << ": picture size must be 1 to " << kMaxPx << " pixels, got " << max_px);
}

// A plane of the volume, oriented for the screen: rows top to bottom, columns left to right.
struct Plane {
  torch::Tensor values;  // float32 [rows, cols]
  double row_mm = 1;     // height of one row
  double col_mm = 1;     // width of one column
};

// Axial plane [H, W]: anterior (low y in LPS) at the top, patient's right (low x) on the left.
Plane axial_plane(const Volume& volume, torch::Tensor yx, const std::array<bool, 3>& flip) {
  if (flip[1]) yx = yx.flip(0);
  if (flip[0]) yx = yx.flip(1);
  return {yx, volume.spacing[1], volume.spacing[0]};
}

// Coronal plane [D, W]: superior (high z in LPS) at the top, patient's right on the left.
Plane coronal_plane(const Volume& volume, torch::Tensor zx, const std::array<bool, 3>& flip) {
  if (!flip[2]) zx = zx.flip(0);
  if (flip[0]) zx = zx.flip(1);
  return {zx, volume.spacing[2], volume.spacing[0]};
}

// Resamples onto square pixels so the picture keeps the physical aspect ratio; `fit_height`
// makes the height `size_px`, otherwise the longer side. Antialiasing keeps downsized pictures
// free of moire; upsizing is plain bilinear.
torch::Tensor resample_square_pixels(const Plane& plane, int size_px, bool fit_height,
                                     const std::string& what) {
  const double height_mm = plane.values.size(0) * plane.row_mm;
  const double width_mm = plane.values.size(1) * plane.col_mm;
  const double pixel_mm = (fit_height ? height_mm : std::max(height_mm, width_mm)) / size_px;
  const auto out_h = std::max<int64_t>(1, std::llround(height_mm / pixel_mm));
  const auto out_w = std::max<int64_t>(1, std::llround(width_mm / pixel_mm));
  UNIPET_CHECK(out_w <= kMaxPx, what << ": a picture " << size_px << " pixels high would be " << out_w
                                     << " pixels wide (more than " << kMaxPx << ")");
  auto image = F::interpolate(plane.values.to(torch::kFloat32).unsqueeze(0).unsqueeze(0),
                              F::InterpolateFuncOptions()
                                  .size(std::vector<int64_t>{out_h, out_w})
                                  .mode(torch::kBilinear)
                                  .align_corners(false)
                                  .antialias(true));
  return image.squeeze(0).squeeze(0).to(torch::kCPU).contiguous();
}

template <typename Colour>
Image colourise(const torch::Tensor& cpu_values, int channels, Colour colour) {
  Image image;
  image.height = static_cast<int>(cpu_values.size(0));
  image.width = static_cast<int>(cpu_values.size(1));
  image.channels = channels;
  image.pixels.resize(static_cast<size_t>(image.width) * image.height * channels);
  const float* values = cpu_values.data_ptr<float>();
  for (size_t i = 0; i < static_cast<size_t>(image.width) * image.height; ++i)
    colour(values[i], &image.pixels[i * channels]);
  return image;
}

Image gray_image(const torch::Tensor& cpu_values, const Window& window) {
  inverted_gray(0.0, window);  // checks the window once, before the loop
  return colourise(cpu_values, 1, [&](float v, uint8_t* out) { *out = inverted_gray(v, window); });
}

void check_index(int64_t index, int64_t size, const std::string& what, const char* axis) {
  UNIPET_CHECK(index >= 0 && index < size,
               what << ": " << axis << " index " << index << " is outside 0.." << size - 1);
}

}  // namespace

uint8_t inverted_gray(double value, const Window& window) {
  UNIPET_CHECK(std::isfinite(window.low) && std::isfinite(window.high) && window.low < window.high,
               "display window must have low < high, got " << window.low << " to " << window.high);
  const double t = std::clamp((value - window.low) / (window.high - window.low), 0.0, 1.0);
  return static_cast<uint8_t>(std::lround(255.0 * (1.0 - t)));
}

std::array<uint8_t, 3> blue_white_red(double value, double halfwidth) {
  UNIPET_CHECK(std::isfinite(halfwidth) && halfwidth > 0,
               "difference window half-width must be positive, got " << halfwidth);
  // Ends of ColorBrewer's RdBu scale: dark enough to read on white, and they stay apart for
  // red-green colour-blind readers.
  constexpr std::array<double, 3> kBlue{33, 102, 172}, kWhite{255, 255, 255}, kRed{178, 24, 43};
  const double t = std::clamp(value / halfwidth, -1.0, 1.0);
  const auto& end = t < 0 ? kBlue : kRed;
  std::array<uint8_t, 3> rgb{};
  for (int c = 0; c < 3; ++c)
    rgb[c] = static_cast<uint8_t>(std::lround(kWhite[c] + std::abs(t) * (end[c] - kWhite[c])));
  return rgb;
}

Image coronal_mip(const Volume& volume, const Window& window, int max_height_px) {
  const std::string what = "coronal_mip";
  check_volume(volume, what);
  check_max_px(max_height_px, what);
  const Plane plane = coronal_plane(volume, std::get<0>(volume.data.max(1)), flips_to_lps(volume, what));
  return gray_image(resample_square_pixels(plane, max_height_px, true, what), window);
}

Image axial_slice(const Volume& volume, int64_t z, const Window& window, int max_px) {
  const std::string what = "axial_slice";
  check_volume(volume, what);
  check_max_px(max_px, what);
  check_index(z, volume.data.size(0), what, "z");
  const Plane plane = axial_plane(volume, volume.data.select(0, z), flips_to_lps(volume, what));
  return gray_image(resample_square_pixels(plane, max_px, false, what), window);
}

Image coronal_slice(const Volume& volume, int64_t y, const Window& window, int max_px) {
  const std::string what = "coronal_slice";
  check_volume(volume, what);
  check_max_px(max_px, what);
  check_index(y, volume.data.size(1), what, "y");
  const Plane plane = coronal_plane(volume, volume.data.select(1, y), flips_to_lps(volume, what));
  return gray_image(resample_square_pixels(plane, max_px, false, what), window);
}

Image difference_slice(const Volume& a, const Volume& b, int64_t z, double halfwidth, int max_px) {
  const std::string what = "difference_slice";
  check_volume(a, what + " (first volume)");
  check_volume(b, what + " (second volume)");
  UNIPET_CHECK(same_geometry(a, b), what << ": the two volumes differ in size or geometry");
  check_max_px(max_px, what);
  check_index(z, a.data.size(0), what, "z");
  blue_white_red(0.0, halfwidth);  // checks the half-width before any work
  const torch::Tensor difference = a.data.select(0, z) - b.data.select(0, z).to(a.data.device());
  const Plane plane = axial_plane(a, difference, flips_to_lps(a, what));
  const torch::Tensor values = resample_square_pixels(plane, max_px, false, what);
  return colourise(values, 3, [&](float v, uint8_t* out) {
    const auto rgb = blue_white_red(v, halfwidth);
    std::copy(rgb.begin(), rgb.end(), out);
  });
}

std::string data_uri_png(const Image& image) {
  return data_uri_png(encode_png(image.pixels, image.width, image.height, image.channels));
}

}  // namespace unipet::report
