#include "unipet/report/png.h"

#include <png.h>

#include <csetjmp>

#include "unipet/core/error.h"

namespace unipet::report {
namespace {

const char kPngSignature[] = "\x89PNG\r\n\x1a\n";

void append_to_string(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<std::string*>(png_get_io_ptr(png));
  out->append(reinterpret_cast<const char*>(data), length);
}

// libpng's default error handler prints to stderr before it longjmps; we report the message in
// the exception instead.
void remember_error(png_structp png, png_const_charp message) {
  auto* error = static_cast<std::string*>(png_get_error_ptr(png));
  *error = message;
  png_longjmp(png, 1);
}

void ignore_warning(png_structp, png_const_charp) {}

// Everything that may longjmp lives here, with only trivially destructible locals, because a
// longjmp skips destructors.
bool encode_into(std::string* out, std::string* error, const uint8_t* pixels, int width, int height,
                 int channels) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, error, remember_error, ignore_warning);
  if (png == nullptr) return false;
  png_infop info = png_create_info_struct(png);
  if (info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, out, append_to_string, nullptr);
  png_set_IHDR(png, info, width, height, 8, channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const size_t row_bytes = static_cast<size_t>(width) * channels;
  for (int row = 0; row < height; ++row) {
    // libpng's API takes non-const rows but does not write to them.
    png_write_row(png, const_cast<png_bytep>(pixels + row * row_bytes));
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

std::string encode_png(const std::vector<uint8_t>& pixels, int width, int height, int channels) {
  UNIPET_CHECK(channels == 1 || channels == 3, "encode_png: channels must be 1 or 3, got " << channels);
  UNIPET_CHECK(width > 0 && height > 0,
               "encode_png: image size must be positive, got " << width << "x" << height);
  // PNG limits each side to 2^31 - 1; far smaller images are all a report needs.
  constexpr int kMaxSide = 1 << 15;
  UNIPET_CHECK(width <= kMaxSide && height <= kMaxSide, "encode_png: image " << width << "x" << height
                                                                             << " is larger than " << kMaxSide
                                                                             << " pixels a side");
  const size_t expected = static_cast<size_t>(width) * height * channels;
  UNIPET_CHECK(pixels.size() == expected, "encode_png: " << width << "x" << height << "x" << channels
                                                         << " image needs " << expected << " bytes, got "
                                                         << pixels.size());
  std::string out;
  std::string error;
  const bool ok = encode_into(&out, &error, pixels.data(), width, height, channels);
  UNIPET_CHECK(ok, "encode_png: libpng failed: " << (error.empty() ? "out of memory" : error));
  return out;
}

std::string base64_encode(const std::string& bytes) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  // Each 3 input bytes become 4 characters of 6 bits each.
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t group = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) |
                           uint32_t(uint8_t(bytes[i + 2]));
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    out += kAlphabet[(group >> 6) & 63];
    out += kAlphabet[group & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t group = uint32_t(uint8_t(bytes[i])) << 16;
    if (rest == 2) group |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    out += rest == 2 ? kAlphabet[(group >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string data_uri_png(const std::string& png_bytes) {
  const std::string signature(kPngSignature, 8);
  UNIPET_CHECK(png_bytes.compare(0, signature.size(), signature) == 0,
               "data_uri_png: the " << png_bytes.size() << " bytes given are not a PNG file");
  return "data:image/png;base64," + base64_encode(png_bytes);
}

}  // namespace unipet::report
