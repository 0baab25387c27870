#include "svg_text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace unipet::report::detail {

std::string escape_xml(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string svg_number(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.2f", value);
  std::string text = buffer;
  // Trailing zeros only make the file bigger.
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text == "-0" ? "0" : text;
}

std::vector<double> linear_ticks(double low, double high, int target) {
  const double raw_step = (high - low) / std::max(1, target);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
  const double fraction = raw_step / magnitude;
  const double step = magnitude * (fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10);
  const double first = std::floor(low / step + 1e-9);
  const double last = std::ceil(high / step - 1e-9);
  std::vector<double> ticks;
  for (double i = first; i <= last; ++i) {
    // Multiplying (not accumulating) keeps 0.1 * 3 from drifting, and 0 from becoming -1e-17.
    const double tick = i * step;
    ticks.push_back(std::abs(tick) < step * 1e-9 ? 0.0 : tick);
  }
  return ticks;
}

std::vector<double> log_ticks(double low, double high) {
  const int first_decade = static_cast<int>(std::floor(std::log10(low)));
  const int last_decade = static_cast<int>(std::ceil(std::log10(high)));
  const bool many_decades = last_decade - first_decade > 4;
  std::vector<double> ticks;
  for (int decade = first_decade; decade <= last_decade; ++decade) {
    for (double multiple : {1.0, 2.0, 5.0}) {
      if (many_decades && multiple != 1.0) continue;
      const double tick = multiple * std::pow(10.0, decade);
      if (tick >= low * (1 - 1e-9) && tick <= high * (1 + 1e-9)) ticks.push_back(tick);
    }
  }
  // A range inside one 1-2-5 step (say 3 to 4) would get no ticks at all.
  if (ticks.size() < 2) {
    ticks.clear();
    for (double tick : linear_ticks(low, high)) {
      if (tick >= low && tick <= high) ticks.push_back(tick);
    }
  }
  return ticks;
}

std::string tick_label(double value, double step) {
  char buffer[64];
  if (value != 0 && (std::abs(value) >= 1e6 || std::abs(value) < 1e-4)) {
    std::snprintf(buffer, sizeof buffer, "%g", value);
  } else {
    const int decimals = std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 6);
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  }
  return buffer;
}

}  // namespace unipet::report::detail
