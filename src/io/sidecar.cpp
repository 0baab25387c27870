#include "unipet/io/sidecar.h"

#include <cctype>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "unipet/core/text.h"
#include "unipet/core/error.h"
#include "unipet/io/image_io.h"
#include "unipet/io/suv.h"

namespace unipet::io {

namespace {

using nlohmann::json;

// Half-lives (s) of the PET radionuclides PET-BIDS names in TracerRadionuclide (DICOM CID 4020
// values), used only when the sidecar has no RadionuclideHalfLife.
double tracer_half_life(const std::string& path, const std::string& name) {
  std::string key;
  for (char c : name)
    if (std::isalnum(static_cast<unsigned char>(c))) key += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  // "18F" and "F18" alike: letters first.
  size_t digits = 0;
  while (digits < key.size() && std::isdigit(static_cast<unsigned char>(key[digits]))) ++digits;
  key = key.substr(digits) + key.substr(0, digits);
  static const std::map<std::string, double> half_lives = {
      {"F18", 6586.2},   {"C11", 1223.4},  {"N13", 597.9},     {"O15", 122.24},   {"GA68", 4062.6},
      {"CU64", 45720.0}, {"ZR89", 282240.0}, {"RB82", 75.45}, {"I124", 360806.4}};
  const auto it = half_lives.find(key);
  UNIPET_CHECK(it != half_lives.end(), path << ": unknown TracerRadionuclide '" << name
                                            << "'; give RadionuclideHalfLife (s)");
  return it->second;
}

double bq_per(const std::string& path, const std::string& units) {
  static const std::map<std::string, double> scale = {{"bq", 1.0},  {"kbq", 1e3},    {"mbq", 1e6},
                                                      {"gbq", 1e9}, {"mci", 3.7e7}, {"uci", 3.7e4}};
  const auto it = scale.find(lower(units));
  UNIPET_CHECK(it != scale.end(), path << ": InjectedRadioactivityUnits is '" << units
                                       << "' (expected Bq, kBq, MBq, GBq, mCi or uCi)");
  return it->second;
}

std::optional<double> number(const json& doc, const char* field, const std::string& path) {
  if (!doc.contains(field) || doc[field].is_null()) return std::nullopt;
  const json& v = doc[field];
  UNIPET_CHECK(v.is_number(), path << ": " << field << " must be a number, got " << v.dump());
  return v.get<double>();
}

std::string text(const json& doc, const char* field, const std::string& path) {
  if (!doc.contains(field) || doc[field].is_null()) return "";
  UNIPET_CHECK(doc[field].is_string(), path << ": " << field << " must be a string, got " << doc[field].dump());
  return doc[field].get<std::string>();
}

std::string format(double v) {
  std::ostringstream out;
  out.precision(10);
  out << v;
  return out.str();
}

}  // namespace

std::string sidecar_path(const std::string& image) {
  const std::string ext = image_extension(image);
  return image.substr(0, image.size() - ext.size()) + ".json";
}

std::optional<Sidecar> read_sidecar(const std::string& image) {
  const std::string path = sidecar_path(image);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  std::ifstream in(path);
  UNIPET_CHECK(in, path << ": cannot read the sidecar");
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::exception& e) {
    std::string what = e.what();
    for (char& c : what)
      if (c == '\n') c = ' ';
    UNIPET_FAIL(path << ": not valid JSON (" << what << ")");
  }
  UNIPET_CHECK(doc.is_object(), path << ": expected a JSON object, got " << doc.type_name());
  Sidecar s;
  s.path = path;
  s.json = doc.dump(2);
  s.modality = text(doc, "Modality", path);
  UNIPET_CHECK(s.modality.empty() || s.modality == "PT",
               path << ": describes a " << s.modality << " series, not PET (Modality PT): the sidecar of another image?");
  s.units = text(doc, "Units", path);
  sidecar_units(s);  // refuses unknown units now, before any work
  if (const auto activity = number(doc, "InjectedRadioactivity", path)) {
    const std::string units = text(doc, "InjectedRadioactivityUnits", path);
    UNIPET_CHECK(!units.empty(), path << ": InjectedRadioactivity is given without InjectedRadioactivityUnits");
    s.injected_bq = *activity * bq_per(path, units);
    s.injected_field = "InjectedRadioactivity";
  } else if (const auto dose = number(doc, "RadionuclideTotalDose", path)) {
    s.injected_bq = *dose;
    s.injected_field = "RadionuclideTotalDose";
  }
  s.weight_kg = number(doc, "BodyWeight", path);
  if (!s.weight_kg) s.weight_kg = number(doc, "PatientWeight", path);
  s.half_life_s = number(doc, "RadionuclideHalfLife", path);
  const std::string tracer = text(doc, "TracerRadionuclide", path);
  if (!s.half_life_s && !tracer.empty()) s.half_life_s = tracer_half_life(path, tracer);
  s.decay_correction = text(doc, "DecayCorrection", path);
  if (doc.contains("ImageDecayCorrected")) {
    UNIPET_CHECK(doc["ImageDecayCorrected"].is_boolean(), path << ": ImageDecayCorrected must be true or false");
    s.decay_corrected = doc["ImageDecayCorrected"].get<bool>();
  }
  const auto corrected_at = number(doc, "ImageDecayCorrectionTime", path);
  const auto injected_at = number(doc, "InjectionStart", path);
  if (corrected_at && injected_at) s.decay_time_s = *corrected_at - *injected_at;
  return s;
}

Units sidecar_units(const Sidecar& s) {
  if (s.units.empty()) return Units::Unknown;
  const std::string u = lower(s.units);
  if (u == "bq/ml" || u == "bqml") return Units::BqPerMl;
  if (u == "g/ml" || u == "gml" || u == "suv") return Units::SUV;
  UNIPET_FAIL(s.path << ": Units is '" << s.units << "' (expected Bq/mL or BQML, or g/mL for SUV)");
}

SuvResult sidecar_suv_factor(const Sidecar& s, std::optional<double> weight_kg) {
  SuvResult r;
  const Units units = sidecar_units(s);
  r.used.emplace_back("Units", s.units.empty() ? "(none)" : s.units);
  if (units == Units::SUV) return r;
  UNIPET_CHECK(s.injected_bq.has_value(),
               s.path << ": cannot compute SUV: no InjectedRadioactivity (PET-BIDS) or RadionuclideTotalDose (dcm2niix)");
  UNIPET_CHECK(*s.injected_bq > 0 && std::isfinite(*s.injected_bq),
               s.path << ": cannot compute SUV: " << s.injected_field << " is " << *s.injected_bq << " Bq");
  r.used.emplace_back(s.injected_field, format(*s.injected_bq) + " Bq");
  const std::optional<double> weight = weight_kg ? weight_kg : s.weight_kg;
  const std::string weight_name = weight_kg ? "--weight" : "BodyWeight/PatientWeight";
  UNIPET_CHECK(weight.has_value(), s.path << ": cannot compute SUV: no BodyWeight or PatientWeight (dcm2niix writes "
                                             "it with -ba n); give --weight in kg");
  UNIPET_CHECK(*weight > 0 && std::isfinite(*weight),
               s.path << ": cannot compute SUV: " << weight_name << " is " << *weight << " kg");
  r.used.emplace_back(weight_name, format(*weight) + " kg");

  UNIPET_CHECK(s.decay_corrected.value_or(true),
               s.path << ": cannot compute SUV: ImageDecayCorrected is false (activity at each frame's own time)");
  UNIPET_CHECK(s.decay_correction.empty() || s.decay_correction == "START" || s.decay_correction == "ADMIN",
               s.path << ": cannot compute SUV: DecayCorrection is '" << s.decay_correction
                      << "', expected START or ADMIN");
  double decay_time = 0;
  if (s.decay_time_s) {
    decay_time = *s.decay_time_s;
    r.used.emplace_back("ImageDecayCorrectionTime - InjectionStart", format(decay_time) + " s");
  } else {
    UNIPET_CHECK(s.decay_correction == "ADMIN",
                 s.path << ": cannot compute SUV: no ImageDecayCorrectionTime and InjectionStart (PET-BIDS) give the "
                        << "time from injection to the decay-correction reference"
                        << (s.decay_correction == "START" ? " (DecayCorrection START; dcm2niix does not record the "
                                                            "injection time)"
                                                          : "")
                        << "; give --suv-factor");
    r.used.emplace_back("DecayCorrection", "ADMIN");
  }
  UNIPET_CHECK(decay_time >= 0, s.path << ": cannot compute SUV: ImageDecayCorrectionTime is " << -decay_time
                                       << " s before InjectionStart");
  double decayed = *s.injected_bq;
  if (decay_time > 0) {
    UNIPET_CHECK(s.half_life_s.has_value() && *s.half_life_s > 0,
                 s.path << ": cannot compute SUV: no RadionuclideHalfLife or known TracerRadionuclide");
    r.used.emplace_back("half-life", format(*s.half_life_s) + " s");
    decayed *= std::exp2(-decay_time / *s.half_life_s);
  }
  r.elapsed_s = decay_time;
  r.decayed_dose_bq = decayed;
  r.factor = suv_per_bqml(*weight, decayed);
  return r;
}

std::string describe_sidecar_provenance(const Sidecar& s) try {
  const json doc = json::parse(s.json);
  if (!doc.contains("GeneratedBy") || !doc["GeneratedBy"].is_array()) return "";
  std::ostringstream out;
  for (const json& step : doc["GeneratedBy"]) {
    if (!step.is_object() || step.value("Name", "") != "unipet") continue;
    out << "  provenance:  " << step.value("Description", "") << "\n"
        << "    made by:       unipet " << step.value("Version", "") << ", " << step.value("DateTime", "") << "\n";
    if (step.contains("CommandLine")) out << "    command:       " << step.value("CommandLine", "") << "\n";
  }
  if (out.tellp() > 0 && doc.contains("Sources") && doc["Sources"].is_array())
    for (const json& source : doc["Sources"])
      if (source.is_string()) out << "    source:        " << source.get<std::string>() << "\n";
  return out.str();
} catch (const json::exception&) {
  return "";  // GeneratedBy of another shape: not unipet's
}

std::string sidecar_json(const SidecarContent& c) {
  json doc = json::object();
  // The source's own fields first, so what it said about tracer and timing is kept.
  if (c.source_sidecar) {
    const json source = json::parse(c.source_sidecar->json);
    for (const char* field :
         {"Modality", "Manufacturer", "TracerName", "TracerRadionuclide", "InjectedRadioactivity",
          "InjectedRadioactivityUnits", "InjectedMass", "InjectedMassUnits", "ModeOfAdministration", "TimeZero",
          "ScanStart", "InjectionStart", "FrameTimesStart", "FrameDuration", "ImageDecayCorrected",
          "ImageDecayCorrectionTime", "RadionuclideTotalDose", "RadionuclideHalfLife", "DecayCorrection",
          "DecayFactor", "BodyWeight", "PatientWeight", "ReconMethodName", "AttenuationCorrection"})
      if (source.contains(field)) doc[field] = source[field];
  } else if (c.source_tags) {
    const SuvTags& t = *c.source_tags;
    if (t.total_dose_bq) {
      doc["InjectedRadioactivity"] = *t.total_dose_bq / 1e6;
      doc["InjectedRadioactivityUnits"] = "MBq";
    }
    if (t.half_life_s) doc["RadionuclideHalfLife"] = *t.half_life_s;
    if (t.patient_weight_kg) doc["BodyWeight"] = *t.patient_weight_kg;
    if (!t.decay_correction.empty()) doc["DecayCorrection"] = t.decay_correction;
    try {  // the decay time only when the tags are complete enough to give it
      const SuvResult r = suv_factor(t);
      if (t.units == "BQML") {
        doc["InjectionStart"] = 0;
        doc["ImageDecayCorrected"] = true;
        doc["ImageDecayCorrectionTime"] = r.elapsed_s;
      }
    } catch (const Error&) {
    }
  }
  doc["Modality"] = "PT";
  if (c.units == Units::BqPerMl) doc["Units"] = "Bq/mL";
  if (c.units == Units::SUV) doc["Units"] = "g/mL";
  if (c.weight_kg) doc["BodyWeight"] = *c.weight_kg;
  doc["Sources"] = c.sources;
  json generated = {{"Name", "unipet"},
                    {"Version", software_version()},
                    {"Description", describe(c.provenance)},
                    {"CommandLine", c.provenance.command_line}};
  if (!c.provenance.model_file.empty()) {
    generated["ModelFile"] = c.provenance.model_file;
    generated["ModelSHA256"] = c.provenance.model_sha256;
  }
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
  generated["DateTime"] = stamp;
  doc["GeneratedBy"] = json::array({generated});
  return doc.dump(2) + "\n";
}

}  // namespace unipet::io
