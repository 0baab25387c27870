// The evaluation's report: summary tables with intervals and best marks, paired differences,
// score-versus-DRF plots, pictures of chosen subjects, provenance; metrics.csv and summary.md.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "evaluation_data.h"
#include "prediction_cache.h"
#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"
#include "unipet/core/body_mask.h"
#include "unipet/eval/lesions.h"
#include "unipet/eval/statistics.h"
#include "unipet/io/image_io.h"
#include "unipet/nn/model_file.h"
#include "unipet/report/figures.h"
#include "unipet/report/html.h"
#include "unipet/report/plots.h"

namespace unipet::eval::detail {

namespace {

namespace fs = std::filesystem;


double x_inf() { return std::numeric_limits<double>::infinity(); }


// One number per subject for a (DRF, method): the score itself, or the mean over its lesions.
struct Column {
  std::string header;
  bool higher_is_better;
  int decimals;
  bool percent;
  std::function<double(const Score&)> value;
};

std::vector<Column> columns() {
  auto lesion_mean = [](auto f) {
    return [f](const Score& s) {
      std::vector<double> v;
      for (const auto& l : s.lesions) v.push_back(f(l));
      return mean_of_finite(v);
    };
  };
  return {
      {"PSNR (dB)", true, 2, false, [](const Score& s) { return s.psnr; }},
      {"PSNR, peak (dB)", true, 2, false, [](const Score& s) { return s.psnr_ref_max; }},
      {"PSNR, clipped (dB)", true, 2, false, [](const Score& s) { return s.psnr_clipped; }},
      {"SSIM", true, 4, false, [](const Score& s) { return s.ssim; }},
      {"NRMSE", false, 4, false, [](const Score& s) { return s.nrmse; }},
      {"SUVmax bias vs full", false, 1, true, [](const Score& s) { return mean_lesion_suvmax_bias(s); }},
      {"SUVpeak bias vs full", false, 1, true, lesion_mean([](const LesionScore& l) { return relative_bias_or_nan(l.suv_peak, l.full_peak); })},
      {"SUVmean bias vs truth", false, 1, true, lesion_mean([](const LesionScore& l) { return relative_bias_or_nan(l.suv_mean, l.true_mean); })},
      {"Contrast recovery", true, 3, false, lesion_mean([](const LesionScore& l) { return l.contrast_recovery; })},
      {"Liver CoV", false, 3, false, [](const Score& s) { return s.liver_cov; }},
  };
}

Column column(const std::string& header) {
  for (const Column& c : columns())
    if (c.header == header) return c;
  UNIPET_FAIL("evaluation report: no column '" << header << "'");
}

// Per subject, in subject order, for one (DRF, method).
std::vector<double> per_subject(const EvaluationResult& r, double drf, const std::string& method, const Column& c) {
  std::vector<double> v;
  for (const std::string& subject : r.subjects)
    for (const Score& s : r.scores)
      if (s.subject == subject && s.drf == drf && s.method == method) v.push_back(c.value(s));
  return v;
}

std::optional<Interval> interval(const std::vector<double>& v) {
  if (std::none_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); })) {
    // A perfect prediction's PSNR is +inf for every subject: say so rather than leave it blank.
    if (!v.empty() && std::all_of(v.begin(), v.end(), [](double x) { return std::isinf(x) && x > 0; }))
      return Interval{x_inf(), x_inf(), x_inf(), static_cast<int64_t>(v.size())};
    return std::nullopt;
  }
  return bootstrap_mean(v);
}

std::string number(double x, int decimals, bool percent) {
  if (!std::isfinite(x)) return std::isinf(x) ? (x > 0 ? "inf" : "-inf") : "";
  std::ostringstream s;
  s << std::fixed << std::setprecision(decimals) << (percent ? 100 * x : x) << (percent ? "%" : "");
  return s.str();
}

std::string with_interval(const Interval& i, int decimals, bool percent) {
  if (i.n < 2 || std::isinf(i.mean)) return number(i.mean, decimals, percent);
  return number(i.mean, decimals, percent) + " [" + number(i.low, decimals, percent) + ", " +
         number(i.high, decimals, percent) + "]";
}

// The summary table of one DRF: only columns with numbers; the best of each column marked.
report::Table summary_table(const EvaluationResult& r, double drf, const std::vector<Method>& methods) {
  report::Table t;
  t.caption = "DRF " + drf_text(drf) + ": mean [95% bootstrap interval over " + std::to_string(r.subjects.size()) +
              " subject(s)]";
  std::vector<Column> used;
  std::vector<std::vector<std::optional<Interval>>> cells;  // [column][method]
  for (const Column& c : columns()) {
    std::vector<std::optional<Interval>> col;
    for (const Method& m : methods) col.push_back(interval(per_subject(r, drf, m.name, c)));
    if (std::any_of(col.begin(), col.end(), [](const auto& i) { return i.has_value(); })) {
      used.push_back(c);
      cells.push_back(col);
    }
  }
  t.header.push_back("Method");
  for (const Column& c : used) t.header.push_back(c.header);
  t.rows.assign(methods.size(), {});
  t.best.assign(methods.size(), std::vector<bool>(used.size() + 1, false));
  for (size_t m = 0; m < methods.size(); ++m) t.rows[m].push_back(methods[m].name);
  for (size_t c = 0; c < used.size(); ++c) {
    // Bias: closest to zero is best; otherwise by the column's direction.
    auto goodness = [&](const Interval& i) {
      if (used[c].percent) return -std::abs(i.mean);
      return used[c].higher_is_better ? i.mean : -i.mean;
    };
    std::optional<size_t> best;
    for (size_t m = 0; m < methods.size(); ++m) {
      t.rows[m].push_back(cells[c][m] ? with_interval(*cells[c][m], used[c].decimals, used[c].percent) : "");
      if (cells[c][m] && !std::isnan(cells[c][m]->mean) &&
          (!best || goodness(*cells[c][m]) > goodness(*cells[c][*best])))
        best = m;
    }
    if (best) t.best[*best][c + 1] = true;
  }
  return t;
}

report::LinePlot drf_plot(const EvaluationResult& r, const std::vector<Method>& methods, const Column& c,
                          const std::vector<double>& trained) {
  report::LinePlot plot;
  plot.title = c.header + " per dose reduction factor";
  plot.x_label = "Dose reduction factor";
  plot.y_label = c.header + (c.percent ? " (%)" : "");
  plot.log_x = true;
  plot.x = r.drfs;
  if (!trained.empty())
    for (double drf : r.drfs) plot.x_highlight.push_back(std::find(trained.begin(), trained.end(), drf) == trained.end());
  const double scale = c.percent ? 100 : 1;
  for (const Method& m : methods) {
    report::LinePlot::Series s{m.name, {}, {}, {}};
    for (double drf : r.drfs) {
      const auto i = interval(per_subject(r, drf, m.name, c));
      s.y.push_back(i ? scale * i->mean : kNaN);
      s.low.push_back(i && i->n > 1 ? scale * i->low : kNaN);
      s.high.push_back(i && i->n > 1 ? scale * i->high : kNaN);
    }
    plot.series.push_back(s);
  }
  return plot;
}

// DRFs the model files were trained on, from their recorded training configuration ("drfs";
// empty there means every DRF of the training dataset, which the file does not record).
std::vector<double> trained_drfs(const EvaluationOptions& o) {
  if (!o.trained_drfs.empty()) return o.trained_drfs;
  for (const Method& m : o.methods) {
    if (m.kind != Method::Kind::Model) continue;
    const auto metadata = nn::load_unipet(m.path).metadata;
    const auto it = metadata.find("unipet.train.config");
    if (it == metadata.end()) continue;
    try {
      const auto config = nlohmann::json::parse(it->second);
      if (config.contains("drfs") && !config["drfs"].empty()) return config["drfs"].get<std::vector<double>>();
    } catch (const nlohmann::json::exception&) {
      continue;  // an unreadable record marks nothing
    }
  }
  return {};
}

double robust_max(const torch::Tensor& v) {
  const auto flat = v.flatten();
  const int64_t k = std::max<int64_t>(1, flat.numel() / 1000);
  return std::get<0>(flat.topk(k)).min().item<double>();
}

void add_pictures(report::HtmlReport& page, const EvaluationData& data, const std::vector<Method>& methods, const io::DatasetSubject& s, double drf) {
  const Volume full = data.full_dose(s);
  const Volume low = data.low_dose(s, drf, full);
  std::vector<std::pair<std::string, Volume>> images{{"low dose", low}};
  for (const Method& m : methods)
    if (m.kind != Method::Kind::LowDose) images.emplace_back(m.name, data.prediction(m, s, drf, full, low));
  images.emplace_back("full dose", full);
  // A reading window as in the clinic: 0 to 10 SUV, lower when the image is fainter, so organs
  // are not washed out by a bladder at 40 SUV.
  const report::Window window{0, std::clamp(robust_max(full.data), 1.0, 10.0)};
  page.heading("Subject " + s.id + ", DRF " + drf_text(drf), 3);
  page.paragraph("One SUV window for every picture: 0 to " + number(window.high, 1, false) +
                 " SUV (inverted gray: black is hot).");
  for (const auto& [name, v] : images) page.figure(report::data_uri_png(report::coronal_mip(v, window, 360)), name + ", coronal MIP");

  // A slice and a profile through the largest lesion, else through the hottest voxel.
  std::array<int64_t, 3> at{};
  std::string where = "the hottest voxel";
  const auto it = s.images.find("lesions");
  if (it != s.images.end()) {
    const auto lesions = lesion_stats(full, io::read_image(data.dataset.resolve(it->second)));
    const auto largest = std::max_element(lesions.begin(), lesions.end(),
                                          [](const auto& a, const auto& b) { return a.volume_ml < b.volume_ml; });
    if (largest != lesions.end()) {
      at = largest->peak_index_dhw;
      where = "lesion " + std::to_string(largest->label) + " (" + number(largest->volume_ml, 1, false) + " ml)";
    }
  }
  if (where == "the hottest voxel") {
    const int64_t flat = full.data.argmax().item<int64_t>();
    const int64_t h = full.data.size(1), w = full.data.size(2);
    at = {flat / (h * w), flat / w % h, flat % w};
  }
  for (const auto& [name, v] : images)
    page.figure(report::data_uri_png(report::axial_slice(v, at[0], window, 300)), name + ", axial slice through " + where);
  const double halfwidth = 0.25 * window.high;
  for (const auto& [name, v] : images) {
    if (name == "full dose") continue;
    page.figure(report::data_uri_png(report::difference_slice(v, full, at[0], halfwidth, 300)),
                name + " minus full dose (blue -" + number(halfwidth, 1, false) + ", red +" + number(halfwidth, 1, false) +
                    " SUV)");
  }
  std::vector<std::pair<std::string, std::vector<double>>> profiles;
  for (const auto& [name, v] : images) {
    const auto row = v.data[at[0]][at[1]].to(torch::kCPU, torch::kFloat64).contiguous();
    profiles.emplace_back(name, std::vector<double>(row.data_ptr<double>(), row.data_ptr<double>() + row.numel()));
  }
  page.figure(report::line_profile_svg(profiles, full.spacing[0], "SUV"),
              "Profile along x through " + where + " (slice " + std::to_string(at[0]) + ")");
}

std::string csv_number(double x) {
  if (std::isnan(x)) return "";
  std::ostringstream s;
  s << std::setprecision(8) << x;
  return s.str();
}

std::string metrics_csv(const EvaluationResult& r) {
  std::ostringstream csv;
  csv << "subject,drf,method,region,psnr,psnr_ref_max,psnr_clipped,ssim,nrmse,liver_cov,volume_ml,suv_max,suv_mean,suv_peak,"
         "full_max,full_mean,full_peak,true_max,true_mean,true_peak,suv_max_bias_full,suv_peak_bias_full,"
         "suv_mean_bias_true,contrast_recovery\n";
  for (const Score& s : r.scores) {
    csv << s.subject << "," << s.drf << "," << s.method << ",body," << csv_number(s.psnr) << ","
        << csv_number(s.psnr_ref_max) << "," << csv_number(s.psnr_clipped) << "," << csv_number(s.ssim) << ","
        << csv_number(s.nrmse) << ","
        << csv_number(s.liver_cov) << ",,,,,,,,,,,,,\n";
    for (const LesionScore& l : s.lesions) {
      csv << s.subject << "," << s.drf << "," << s.method << ",lesion " << l.label << ",,,,,,," << csv_number(l.volume_ml)
          << "," << csv_number(l.suv_max) << "," << csv_number(l.suv_mean) << "," << csv_number(l.suv_peak) << ","
          << csv_number(l.full_max) << "," << csv_number(l.full_mean) << "," << csv_number(l.full_peak) << ","
          << csv_number(l.true_max) << "," << csv_number(l.true_mean) << "," << csv_number(l.true_peak) << ","
          << csv_number(relative_bias_or_nan(l.suv_max, l.full_max)) << "," << csv_number(relative_bias_or_nan(l.suv_peak, l.full_peak)) << ","
          << csv_number(relative_bias_or_nan(l.suv_mean, l.true_mean)) << "," << csv_number(l.contrast_recovery) << "\n";
    }
  }
  return csv.str();
}

std::string markdown(const report::Table& t) {
  std::ostringstream md;
  md << "**" << t.caption << "**\n\n|";
  for (const auto& h : t.header) md << " " << h << " |";
  md << "\n|";
  for (size_t i = 0; i < t.header.size(); ++i) md << (i ? " ---: |" : " --- |");
  md << "\n";
  for (size_t r = 0; r < t.rows.size(); ++r) {
    md << "|";
    for (size_t c = 0; c < t.rows[r].size(); ++c) {
      const bool best = r < t.best.size() && c < t.best[r].size() && t.best[r][c];
      md << " " << (best ? "**" + t.rows[r][c] + "**" : t.rows[r][c]) << " |";
    }
    md << "\n";
  }
  return md.str() + "\n";
}

std::string drf_list(const std::vector<double>& drfs) {
  std::string s;
  for (double d : drfs) s += (s.empty() ? "" : ", ") + drf_text(d);
  return s;
}

void add_introduction(report::HtmlReport& page, const EvaluationData& data, const EvaluationResult& r) {
  const EvaluationOptions& o = data.options;
  page.title("unipet evaluate: " + data.dataset.name + ", " + o.split + " split");
  page.paragraph(
      std::to_string(r.subjects.size()) + " subject(s), DRFs " + drf_list(r.drfs) +
      ". Whole volumes in SUV, scored inside the body mask of the full-dose image; PSNR and SSIM with a "
      "data range of " +
      number(o.data_range, 0, false) +
      " SUV; lesion numbers per lesion of the dataset's label images, averaged per subject.");
}

// Paired differences: the first given method against every other one.
report::Table paired_differences_table(const EvaluationResult& r, const std::vector<Method>& methods) {
  const Method& ref = methods.front();
  const Column psnr = column("PSNR (dB)"), ssim = column("SSIM");
  report::Table t;
  t.caption =
      "Paired differences of " + ref.name + " over each other method (mean [95% interval] over subjects)";
  t.header = {"DRF"};
  for (size_t m = 1; m < methods.size(); ++m) {
    t.header.push_back("ΔPSNR vs " + methods[m].name + " (dB)");
    t.header.push_back("ΔSSIM vs " + methods[m].name);
  }
  for (double drf : r.drfs) {
    std::vector<std::string> row{drf_text(drf)};
    for (size_t m = 1; m < methods.size(); ++m) {
      for (const Column* c : {&psnr, &ssim}) {
        try {
          const auto d =
              paired_difference(per_subject(r, drf, ref.name, *c), per_subject(r, drf, methods[m].name, *c));
          row.push_back(with_interval(d, c == &psnr ? 2 : 4, false));
        } catch (const Error&) {
          row.push_back("");
        }
      }
    }
    t.rows.push_back(row);
  }
  return t;
}

void add_drf_plots(report::HtmlReport& page, const EvaluationResult& r, const std::vector<Method>& methods,
                   const std::vector<double>& trained) {
  page.heading("Scores per dose reduction factor");
  if (trained.empty())
    page.paragraph("DRFs seen in training: not recorded (no model file lists them: a model trained on every DRF of "
                   "its dataset records none); no point is marked. --trained-drfs sets them.");
  for (const char* name : {"PSNR (dB)", "PSNR, clipped (dB)", "SSIM", "SUVmax bias vs full"}) {
    const Column col = column(name);
    const auto plot = drf_plot(r, methods, col, trained);
    if (std::all_of(plot.series.begin(), plot.series.end(), [](const auto& s) {
          return std::none_of(s.y.begin(), s.y.end(), [](double y) { return std::isfinite(y); });
        }))
      continue;
    page.figure(report::line_plot_svg(plot), col.header + ": mean and 95% interval over subjects");
  }
}

report::Table gaussian_fwhm_table(const EvaluationResult& r) {
  report::Table t;
  t.caption = "Gaussian baseline: the FWHM that maximises PSNR on the " + r.gaussian_split + " split";
  t.header = {"DRF", "FWHM (mm)"};
  for (const auto& [drf, fwhm] : r.gaussian_fwhm_mm)
    t.rows.push_back({drf_text(drf), number(fwhm, 2, false)});
  return t;
}

// The subjects of --show (default: the first) at --show-drf (default: the highest DRF).
void add_chosen_pictures(report::HtmlReport& page, const EvaluationData& data, const EvaluationResult& r,
                         const std::vector<Method>& methods) {
  const EvaluationOptions& o = data.options;
  page.heading("Pictures");
  const double show_drf = o.show_drf > 0 ? o.show_drf : r.drfs.back();
  std::vector<std::string> show = o.show.empty() ? std::vector<std::string>{r.subjects.front()} : o.show;
  for (const std::string& id : show) {
    const auto subject = std::find_if(data.dataset.subjects.begin(), data.dataset.subjects.end(),
                                      [&](const auto& s) { return s.id == id; });
    UNIPET_CHECK(subject != data.dataset.subjects.end(), "--show " << id << ": no such subject in " << o.dataset);
    UNIPET_CHECK(subject->low_dose.count(show_drf), "--show-drf " << show_drf << ": subject " << id << " has none");
    add_pictures(page, data, methods, *subject, show_drf);
  }
}

// The command, dataset and timings, as shown in the report and at the end of summary.md.
std::string provenance_text(const EvaluationData& data, const EvaluationResult& r) {
  const EvaluationOptions& o = data.options;
  std::ostringstream made;
  made << "command: " << (o.command_line.empty() ? "(library call)" : o.command_line) << "\n"
       << "dataset: " << o.dataset << " (" << data.dataset.name << ", source " << data.dataset.source << ")\n"
       << "predictions: " << r.predictions_run << " computed, " << r.predictions_cached << " cached; denoising "
       << number(r.denoise_seconds, 1, false) << " s, scoring " << number(r.scoring_seconds, 1, false) << " s\n";
  return made.str();
}

void add_provenance(report::HtmlReport& page, const std::string& made, const std::vector<Method>& methods) {
  page.heading("How this report was made");
  page.code_block(made);
  for (const Method& m : methods) {
    if (m.kind == Method::Kind::Model) page.code_block(m.name + ": " + nn::describe_model_file(m.path));
    if (m.kind == Method::Kind::Folder) page.code_block(m.name + ": predictions read from " + m.path);
    if (m.kind == Method::Kind::Blend)
      page.code_block(m.name + ": " + m.base + "'s output blended with its input, x + alpha(n) (f(x) - x), alpha by the "
                      "input's estimated noise level n (unipet calibrate)\n" + m.calibration->blend->table());
  }
}

}  // namespace

void write_report(const EvaluationData& data, const EvaluationResult& r) {
  const EvaluationOptions& o = data.options;
  const auto methods = all_methods(o);
  const auto trained = trained_drfs(o);
  report::HtmlReport page;
  add_introduction(page, data, r);

  page.heading("Summary");
  std::string md = "# unipet evaluate: " + data.dataset.name + ", " + o.split + " split\n\n";
  for (double drf : r.drfs) {
    const auto table = summary_table(r, drf, methods);
    page.table(table);
    md += markdown(table);
  }
  if (methods.size() > 1) {
    const auto table = paired_differences_table(r, methods);
    page.table(table);
    md += markdown(table);
  }
  add_drf_plots(page, r, methods, trained);
  if (!r.gaussian_fwhm_mm.empty()) {
    const auto table = gaussian_fwhm_table(r);
    page.table(table);
    md += markdown(table);
  }
  add_chosen_pictures(page, data, r, methods);
  const std::string made = provenance_text(data, r);
  add_provenance(page, made, methods);
  // Under --out, as every path the command writes (a symbolic link out of it is refused).
  auto report_file = [&](const char* name) { return confined_path(o.out, name, std::string("--out: ") + name).string(); };
  page.write(report_file("index.html"));
  write_file_atomically(report_file("metrics.csv"), metrics_csv(r));
  write_file_atomically(report_file("summary.md"), md + "```\n" + made + "```\n");
}

}  // namespace unipet::eval::detail

namespace unipet::eval {

double mean_lesion_suvmax_bias(const Score& s) {
  std::vector<double> bias;
  for (const auto& l : s.lesions) bias.push_back(relative_bias_or_nan(l.suv_max, l.full_max));
  return mean_of_finite(bias);
}

}  // namespace unipet::eval
