#pragma once
// Decodes PNG bytes with libpng's simplified API, independently of the encoder under test.
#include <png.h>

#include <cstdint>
#include <string>
#include <vector>

namespace unipet::test {

struct DecodedPng {
  bool ok = false;
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // row-major, `channels` bytes per pixel
};

/// `channels` 1 asks libpng for gray, 3 for RGB (it converts, so a screenshot in RGBA reads too).
inline DecodedPng decode_png(const std::string& bytes, int channels) {
  DecodedPng out;
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) return out;
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  out.pixels.resize(PNG_IMAGE_SIZE(image));
  // Composite any transparency onto white, as a browser shows it.
  png_color white{255, 255, 255};
  if (!png_image_finish_read(&image, &white, out.pixels.data(), 0, nullptr)) {
    png_image_free(&image);
    return out;
  }
  out.ok = true;
  out.width = static_cast<int>(image.width);
  out.height = static_cast<int>(image.height);
  return out;
}

}  // namespace unipet::test
