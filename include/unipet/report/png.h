#pragma once
/// PNG encoding and data URIs, so a report's images live inside its one HTML file.
///
///   std::string png = unipet::report::encode_png(pixels, width, height, 1);
///   html.figure(unipet::report::data_uri_png(png), "Coronal MIP, full dose");
#include <cstdint>
#include <string>
#include <vector>

namespace unipet::report {

/// PNG file bytes of an 8-bit image. `pixels`: row-major, top row first, `channels` bytes per
/// pixel (1 = gray, 3 = RGB), so its size must be width * height * channels. Throws
/// unipet::Error on a bad size or channel count, or when libpng fails.
std::string encode_png(const std::vector<uint8_t>& pixels, int width, int height, int channels);

/// "data:image/png;base64,..." for `png_bytes`. Throws unipet::Error unless they start with the
/// PNG signature, so a wrong buffer never becomes a broken image in a report.
std::string data_uri_png(const std::string& png_bytes);

/// Standard base64 (RFC 4648, with '=' padding, no line breaks).
std::string base64_encode(const std::string& bytes);

}  // namespace unipet::report
