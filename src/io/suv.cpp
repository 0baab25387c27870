#include "unipet/io/suv.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "unipet/core/error.h"

namespace unipet::io {

namespace {

std::string trimmed(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  const auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string format_number(double v) {
  std::ostringstream out;
  out.precision(10);
  out << v;
  return out.str();
}

}  // namespace

double dicom_seconds(const std::string& date_in, const std::string& time_in, const std::string& what) {
  std::string date = trimmed(date_in), time = trimmed(time_in);
  if (time.empty() && date.size() > 8) {  // a DT value: split date and time, drop any UTC offset
    time = date.substr(8);
    date = date.substr(0, 8);
    const auto tz = time.find_first_of("+-");
    if (tz != std::string::npos) time = time.substr(0, tz);
  }
  UNIPET_CHECK(date.size() == 8 && all_digits(date),
               what << ": malformed DICOM date '" << date_in << "' (expected YYYYMMDD)");
  const int y = std::stoi(date.substr(0, 4)), mo = std::stoi(date.substr(4, 2)),
            d = std::stoi(date.substr(6, 2));
  UNIPET_CHECK(mo >= 1 && mo <= 12 && d >= 1 && d <= 31, what << ": invalid date '" << date_in << "'");
  time.erase(std::remove(time.begin(), time.end(), ':'), time.end());  // old ACR-NEMA HH:MM:SS
  const std::string whole = time.substr(0, time.find('.'));
  const std::string frac = time.find('.') == std::string::npos ? "" : time.substr(time.find('.'));
  UNIPET_CHECK((whole.empty() || all_digits(whole)) && whole.size() % 2 == 0 && whole.size() <= 6,
               what << ": malformed DICOM time '" << time_in << "' (expected HHMMSS.ffffff)");
  const int h = whole.size() >= 2 ? std::stoi(whole.substr(0, 2)) : 0;
  const int mi = whole.size() >= 4 ? std::stoi(whole.substr(2, 2)) : 0;
  const int s = whole.size() >= 6 ? std::stoi(whole.substr(4, 2)) : 0;
  UNIPET_CHECK(h < 24 && mi < 60 && s < 61, what << ": invalid time '" << time_in << "'");
  const double fraction = frac.size() > 1 ? std::stod("0" + frac) : 0.0;
  return static_cast<double>(days_from_civil(y, mo, d)) * 86400.0 + h * 3600.0 + mi * 60.0 + s + fraction;
}

double suv_per_bqml(double weight_kg, double dose_at_scan_bq) {
  UNIPET_CHECK(std::isfinite(weight_kg) && weight_kg > 0 && std::isfinite(dose_at_scan_bq) && dose_at_scan_bq > 0,
               "SUV needs a positive dose and weight, got " << dose_at_scan_bq << " Bq and " << weight_kg << " kg");
  return weight_kg * 1000.0 / dose_at_scan_bq;
}

double bq_per_ml_per_suv(double dose_at_scan_bq, double weight_kg) {
  suv_per_bqml(weight_kg, dose_at_scan_bq);  // the same checks
  return dose_at_scan_bq / (weight_kg * 1000.0);
}

namespace {

// The injection's time (s since the epoch), from RadiopharmaceuticalStartDateTime or else from
// RadiopharmaceuticalStartTime on the series' date; `series` is the series' start.
double injection_seconds(const SuvTags& t, const std::string& src, double series, SuvResult& r) {
  if (!trimmed(t.injection_datetime).empty()) {
    const double injection =
        dicom_seconds(t.injection_datetime, "", src + ": RadiopharmaceuticalStartDateTime (0018,1078)");
    r.used.emplace_back("RadiopharmaceuticalStartDateTime (0018,1078)", trimmed(t.injection_datetime));
    return injection;
  }
  UNIPET_CHECK(!trimmed(t.injection_time).empty(),
               src << ": cannot compute SUV: RadiopharmaceuticalStartTime (0018,1072) and "
                      "RadiopharmaceuticalStartDateTime (0018,1078) are missing");
  const double injection =
      dicom_seconds(t.series_date, t.injection_time, src + ": RadiopharmaceuticalStartTime (0018,1072)");
  // Only a time of day was stored, so an injection "after" the series could be a scan past
  // midnight or a wrong clock or tag; guessing the previous day would make SUV tens of times
  // too high without a word. Only RadiopharmaceuticalStartDateTime can say which day it was.
  UNIPET_CHECK(injection <= series,
               src << ": cannot compute SUV: RadiopharmaceuticalStartTime (0018,1072) "
                   << trimmed(t.injection_time) << " is after SeriesTime (0008,0031) "
                   << trimmed(t.series_time)
                   << " and no RadiopharmaceuticalStartDateTime (0018,1078) gives the injection date; "
                      "give the factor with --suv-factor");
  r.used.emplace_back("RadiopharmaceuticalStartTime (0018,1072)", trimmed(t.injection_time));
  return injection;
}

// DecayCorrection START: the injected dose decayed to the series' start (r.elapsed_s after the
// injection).
double dose_at_series_start(const SuvTags& t, const std::string& src, SuvResult& r) {
  UNIPET_CHECK(t.half_life_s.has_value(),
               src << ": cannot compute SUV: RadionuclideHalfLife (0018,1075) is missing");
  UNIPET_CHECK(*t.half_life_s > 0 && std::isfinite(*t.half_life_s),
               src << ": cannot compute SUV: RadionuclideHalfLife (0018,1075) is " << *t.half_life_s);
  r.used.emplace_back("RadionuclideHalfLife (0018,1075)", format_number(*t.half_life_s) + " s");
  UNIPET_CHECK(!trimmed(t.series_date).empty(),
               src << ": cannot compute SUV: SeriesDate (0008,0021) is missing");
  UNIPET_CHECK(!trimmed(t.series_time).empty(),
               src << ": cannot compute SUV: SeriesTime (0008,0031) is missing");
  const double series = dicom_seconds(t.series_date, t.series_time, src + ": SeriesDate/SeriesTime");
  r.used.emplace_back("SeriesDate/SeriesTime (0008,0021/0031)",
                      trimmed(t.series_date) + " " + trimmed(t.series_time));
  const double injection = injection_seconds(t, src, series, r);
  r.elapsed_s = series - injection;
  UNIPET_CHECK(r.elapsed_s >= 0, src << ": cannot compute SUV: the injection is " << -r.elapsed_s
                                     << " s after SeriesDate/SeriesTime");
  return *t.total_dose_bq * std::exp2(-r.elapsed_s / *t.half_life_s);
}

}  // namespace

SuvResult suv_factor(const SuvTags& t) {
  const std::string& src = t.source.empty() ? std::string("DICOM series") : t.source;
  SuvResult r;
  const std::string units = trimmed(t.units);
  UNIPET_CHECK(!units.empty(), src << ": cannot compute SUV: Units (0054,1001) is missing");
  r.used.emplace_back("Units (0054,1001)", units);
  if (units == "GML") return r;  // already SUV (body weight, g/ml)
  UNIPET_CHECK(units == "BQML", src << ": cannot compute SUV: Units (0054,1001) is '" << units
                                    << "', expected BQML (or GML for images already in SUV)");

  const auto has = [&](const char* v) {
    return std::find(t.corrected_image.begin(), t.corrected_image.end(), v) != t.corrected_image.end();
  };
  std::string corrected;
  for (const auto& c : t.corrected_image) corrected += (corrected.empty() ? "" : "\\") + c;
  UNIPET_CHECK(has("ATTN") && has("DECY"), src << ": cannot compute SUV: CorrectedImage (0028,0051) is '"
                                               << corrected << "', it must include ATTN and DECY");
  r.used.emplace_back("CorrectedImage (0028,0051)", corrected);

  const std::string decay = trimmed(t.decay_correction);
  UNIPET_CHECK(decay == "START" || decay == "ADMIN",
               src << ": cannot compute SUV: DecayCorrection (0054,1102) is '" << decay
                   << "', expected START or ADMIN");
  r.used.emplace_back("DecayCorrection (0054,1102)", decay);

  UNIPET_CHECK(t.patient_weight_kg.has_value(),
               src << ": cannot compute SUV: PatientWeight (0010,1030) is missing");
  UNIPET_CHECK(*t.patient_weight_kg > 0 && std::isfinite(*t.patient_weight_kg),
               src << ": cannot compute SUV: PatientWeight (0010,1030) is " << *t.patient_weight_kg);
  r.used.emplace_back("PatientWeight (0010,1030)", format_number(*t.patient_weight_kg) + " kg");
  UNIPET_CHECK(t.total_dose_bq.has_value(),
               src << ": cannot compute SUV: RadionuclideTotalDose (0018,1074) is missing");
  UNIPET_CHECK(*t.total_dose_bq > 0 && std::isfinite(*t.total_dose_bq),
               src << ": cannot compute SUV: RadionuclideTotalDose (0018,1074) is " << *t.total_dose_bq);
  r.used.emplace_back("RadionuclideTotalDose (0018,1074)", format_number(*t.total_dose_bq) + " Bq");

  const double decayed = decay == "START" ? dose_at_series_start(t, src, r) : *t.total_dose_bq;
  r.decayed_dose_bq = decayed;
  r.factor = suv_per_bqml(*t.patient_weight_kg, decayed);
  return r;
}

}  // namespace unipet::io
