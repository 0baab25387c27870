#pragma once
/// A self-contained HTML page for a report: inline CSS, images as data URIs, SVG inline, no
/// script and no network access, so `index.html` can be mailed or archived as one file.
///
///   HtmlReport page;
///   page.title("unipet evaluate: test set");
///   page.table({{"Method", "PSNR (dB)"},
///               {{"UniPET", "38.2"}, {"Low dose", "31.0"}},
///               {{false, true}, {}},  // best flags
///               "DRF 20"});
///   page.figure(data_uri_png(coronal_mip(volume, {0, 5}, 512)), "Coronal MIP");
///   page.figure(line_plot_svg(plot), "PSNR per DRF");
///   page.write(report_dir + "/index.html");
///
/// Text given to any method is HTML-escaped. Consecutive figures of one kind (pictures, or SVG
/// charts) share a responsive grid.
#include <string>
#include <vector>

namespace unipet::report {

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  ///< each as long as `header` (when it is given)
  /// Empty, or one row of flags per row (an empty row: no flag): cells drawn bold with a marker.
  std::vector<std::vector<bool>> best;
  std::string caption;
};

class HtmlReport {
 public:
  /// The page title (browser tab) and its top heading, where this is called.
  void title(const std::string& text);
  /// A section heading; `level` 2 to 4.
  void heading(const std::string& text, int level = 2);
  void paragraph(const std::string& text);
  /// Throws unipet::Error when a row or its flags do not match the header's length.
  void table(const Table& table);
  /// A picture (a "data:image/..." URI, e.g. from data_uri_png) or an inline chart (an `<svg>`
  /// element from line_plot_svg or line_profile_svg; it is inserted as is, so pass only SVG that
  /// unipet made) with its caption. Throws unipet::Error on anything else.
  void figure(const std::string& data_uri_or_svg, const std::string& caption);
  /// Preformatted text, e.g. the command line that produced the report.
  void code_block(const std::string& text);

  /// The whole document.
  std::string str() const;
  /// str() written with write_file_atomically; throws unipet::Error naming `path` on failure.
  void write(const std::string& path) const;

 private:
  enum class Grid { None, Pictures, Charts };
  void open_grid(Grid kind);

  std::string title_;
  std::string body_;
  Grid grid_ = Grid::None;
};

}  // namespace unipet::report
