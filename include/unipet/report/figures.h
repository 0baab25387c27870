#pragma once
/// Pictures of PET volumes for a report, drawn with their physical aspect ratio.
///
///   unipet::report::Window suv{0.0, 5.0};
///   Image mip = unipet::report::coronal_mip(denoised, suv, 512);
///   html.figure(unipet::report::data_uri_png(mip), "Coronal MIP");
///
/// Orientation (identity direction, LPS): x index 0 is the patient's right, y index 0 anterior,
/// z index 0 inferior. Every picture follows the radiological convention: the patient's right on
/// the viewer's LEFT (x grows to the right of the picture), anterior at the top of axial
/// pictures, superior (high z) at the top of coronal ones. A volume whose direction flips an axis
/// is flipped back, so that the picture keeps this orientation.
///
/// Pixels are resampled bilinearly onto square pixels, so a voxel of spacing sx by sz is drawn sx
/// wide and sz high. The volume may live on any device; the picture is computed where it lives and
/// copied to the CPU.
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "unipet/core/volume.h"

namespace unipet::report {

/// Display range of a picture, in the volume's units (e.g. SUV 0 to 5).
struct Window {
  double low = 0;
  double high = 5;
};

/// An 8-bit picture: row-major, top row first, `channels` (1 gray, 3 RGB) bytes per pixel.
struct Image {
  int width = 0;
  int height = 0;
  int channels = 1;
  std::vector<uint8_t> pixels;
};

/// PET display convention: white at or below window.low, black at or above window.high.
/// Throws unipet::Error unless low < high (both finite).
uint8_t inverted_gray(double value, const Window& window);

/// Difference colours: blue for -halfwidth and below, white at 0, red for +halfwidth and above.
/// Throws unipet::Error unless halfwidth is positive and finite.
std::array<uint8_t, 3> blue_white_red(double value, double halfwidth);

/// Maximum intensity projection along y (anterior-posterior), gray. The picture is scaled so that
/// its height is `max_height_px` (1 to 8192).
Image coronal_mip(const Volume& volume, const Window& window, int max_height_px);

/// Axial slice at z index `z`, gray; its longer side is `max_px` pixels (1 to 8192).
Image axial_slice(const Volume& volume, int64_t z, const Window& window, int max_px);

/// Coronal slice at y index `y`, gray; its longer side is `max_px` pixels (1 to 8192).
Image coronal_slice(const Volume& volume, int64_t y, const Window& window, int max_px);

/// Axial slice of `a - b` at z index `z` in blue_white_red(halfwidth), RGB: red where `a` is
/// higher. `a` and `b` must share their geometry. Its longer side is `max_px` pixels.
Image difference_slice(const Volume& a, const Volume& b, int64_t z, double halfwidth, int max_px);

/// encode_png and data_uri_png of `image`, ready for HtmlReport::figure.
std::string data_uri_png(const Image& image);

/// Inline SVG line chart of intensity profiles (e.g. through a lesion: low dose, each method, full
/// dose). Each series is (name, samples); sample i is drawn at i * spacing_mm. Every series must
/// have the same, non-zero, number of samples; NaN samples are left out. Throws unipet::Error.
std::string line_profile_svg(const std::vector<std::pair<std::string, std::vector<double>>>& series,
                             double spacing_mm, const std::string& y_label);

}  // namespace unipet::report
