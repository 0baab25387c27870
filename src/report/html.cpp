#include "unipet/report/html.h"

#include "svg_text.h"
#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"
#include "unipet/core/text.h"

namespace unipet::report {
namespace {

using detail::escape_xml;

// System fonts only (nothing to download); the table header stays visible while its rows
// scroll; pictures reflow from one to several columns with the window's width.
const char* const kStyle = R"(
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  max-width: 1200px; margin: 0 auto; padding: 24px; color: #1b1b1b; background: #fff; line-height: 1.5; }
h1 { font-size: 1.7rem; margin: 0.2em 0 0.6em; }
h2 { font-size: 1.3rem; margin-top: 2em; padding-bottom: 0.2em; border-bottom: 1px solid #ddd; }
h3, h4 { margin-top: 1.5em; }
.table-wrap { width: fit-content; max-width: 100%; max-height: 80vh; overflow: auto; margin: 1em 0;
  border: 1px solid #ddd; border-radius: 4px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; min-width: 50%; }
caption { caption-side: top; text-align: left; padding: 0.5em 0.75em; font-weight: 600; }
th, td { padding: 0.35em 0.75em; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { position: sticky; top: 0; z-index: 1; background: #eef1f4; border-bottom: 2px solid #c8ccd0; }
tbody tr:nth-child(even) { background: #fafafa; }
td.best { font-weight: 700; }
.best-mark { color: #b35806; font-weight: 400; }
.grid { display: grid; gap: 16px; align-items: start; margin: 1em 0;
  grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); }
.grid.charts { grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); }
figure { margin: 0; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
figure svg { display: block; width: 100%; height: auto; border: 1px solid #e4e4e4; }
figcaption { font-size: 0.9rem; color: #444; margin-top: 0.3em; }
pre { background: #f6f8fa; padding: 12px; overflow: auto; border-radius: 4px; font-size: 0.85rem; }
)";

}  // namespace

void HtmlReport::open_grid(Grid kind) {
  if (grid_ == kind) return;
  if (grid_ != Grid::None) body_ += "</div>\n";
  if (kind == Grid::Pictures) body_ += "<div class=\"grid\">\n";
  if (kind == Grid::Charts) body_ += "<div class=\"grid charts\">\n";
  grid_ = kind;
}

void HtmlReport::title(const std::string& text) {
  open_grid(Grid::None);
  title_ = text;
  body_ += "<h1>" + escape_xml(text) + "</h1>\n";
}

void HtmlReport::heading(const std::string& text, int level) {
  UNIPET_CHECK(level >= 2 && level <= 4, "HtmlReport: heading level must be 2 to 4, got " << level);
  open_grid(Grid::None);
  const std::string tag = "h" + std::to_string(level);
  body_ += "<" + tag + ">" + escape_xml(text) + "</" + tag + ">\n";
}

void HtmlReport::paragraph(const std::string& text) {
  open_grid(Grid::None);
  body_ += "<p>" + escape_xml(text) + "</p>\n";
}

void HtmlReport::table(const Table& table) {
  const size_t columns = table.header.size();
  for (size_t r = 0; r < table.rows.size(); ++r) {
    UNIPET_CHECK(columns == 0 || table.rows[r].size() == columns,
                 "HtmlReport: table '" << table.caption << "' row " << r << " has " << table.rows[r].size()
                                       << " cells for " << columns << " columns");
  }
  UNIPET_CHECK(table.best.empty() || table.best.size() == table.rows.size(),
               "HtmlReport: table '" << table.caption << "' has " << table.best.size()
                                     << " rows of best flags for " << table.rows.size() << " rows");
  bool any_best = false;
  for (size_t r = 0; r < table.best.size(); ++r) {
    UNIPET_CHECK(table.best[r].empty() || table.best[r].size() == table.rows[r].size(),
                 "HtmlReport: table '" << table.caption << "' row " << r << " has " << table.best[r].size()
                                       << " best flags for " << table.rows[r].size() << " cells");
    for (bool flag : table.best[r]) any_best = any_best || flag;
  }
  open_grid(Grid::None);
  std::string html = "<div class=\"table-wrap\"><table>\n";
  if (!table.caption.empty() || any_best) {
    html += "<caption>" + escape_xml(table.caption);
    // The marker is explained where it is used, so the table reads on its own.
    if (any_best) html += " <span class=\"best-mark\">(&#9733; best)</span>";
    html += "</caption>\n";
  }
  if (columns > 0) {
    html += "<thead><tr>";
    for (const auto& cell : table.header) html += "<th scope=\"col\">" + escape_xml(cell) + "</th>";
    html += "</tr></thead>\n";
  }
  html += "<tbody>\n";
  for (size_t r = 0; r < table.rows.size(); ++r) {
    html += "<tr>";
    for (size_t c = 0; c < table.rows[r].size(); ++c) {
      const bool best = r < table.best.size() && c < table.best[r].size() && table.best[r][c];
      const std::string text = escape_xml(table.rows[r][c]);
      html += best ? "<td class=\"best\">" + text +
                         " <span class=\"best-mark\" title=\"best\">&#9733;</span></td>"
                   : "<td>" + text + "</td>";
    }
    html += "</tr>\n";
  }
  body_ += html + "</tbody></table></div>\n";
}

void HtmlReport::figure(const std::string& data_uri_or_svg, const std::string& caption) {
  const std::string& content = data_uri_or_svg;
  std::string element;
  if (starts_with(content, "data:image/")) {
    open_grid(Grid::Pictures);
    element = "<img src=\"" + escape_xml(content) + "\" alt=\"" + escape_xml(caption) + "\">";
  } else if (starts_with(content, "<svg") && ends_with(content, "</svg>")) {
    open_grid(Grid::Charts);
    element = content;
  } else {
    UNIPET_FAIL("HtmlReport: figure '" << caption << "' is neither a data:image URI nor an <svg> element");
  }
  body_ += "<figure>" + element + "<figcaption>" + escape_xml(caption) + "</figcaption></figure>\n";
}

void HtmlReport::code_block(const std::string& text) {
  open_grid(Grid::None);
  body_ += "<pre><code>" + escape_xml(text) + "</code></pre>\n";
}

std::string HtmlReport::str() const {
  // An empty data: icon stops browsers from asking for /favicon.ico, which would fail offline.
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         "<meta name=\"generator\" content=\"unipet\">\n<link rel=\"icon\" href=\"data:,\">\n<title>" +
         escape_xml(title_.empty() ? "unipet report" : title_) + "</title>\n<style>" + kStyle +
         "</style>\n</head>\n<body>\n" + body_ + (grid_ != Grid::None ? "</div>\n" : "") +
         "</body>\n</html>\n";
}

void HtmlReport::write(const std::string& path) const { write_file_atomically(path, str()); }

}  // namespace unipet::report
