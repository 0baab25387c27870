#pragma once
// Text helpers shared by the report's SVG and HTML writers.
#include <string>
#include <vector>

namespace unipet::report::detail {

/// `text` safe inside XML/HTML element content and quoted attribute values (& < > " ').
std::string escape_xml(const std::string& text);

/// Coordinates for SVG attributes: fixed, at most 2 decimals, never "-0" or exponents.
std::string svg_number(double value);

/// Round tick values ("nice numbers": 1, 2 or 5 times a power of ten apart) whose span covers
/// [low, high], about `target` of them. low < high, both finite.
std::vector<double> linear_ticks(double low, double high, int target = 5);

/// Tick values for a logarithmic axis covering [low, high] (0 < low < high): 1, 2 and 5 times
/// each power of ten inside the range, thinned to powers of ten when the range spans many decades.
std::vector<double> log_ticks(double low, double high);

/// A tick label with just the decimals that `step` (the distance between ticks) needs.
std::string tick_label(double value, double step);

}  // namespace unipet::report::detail
