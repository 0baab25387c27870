#include "unipet/io/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"
#include "unipet/io/suv.h"

namespace unipet::io {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFormat = "unipet-dataset";
constexpr int kVersion = 1;

// Subject numbers the SUV is computed from: when given they must be usable, or a negative
// suv_per_bqml would be passed over silently for the weight and dose.
constexpr const char* kPositiveInfo[] = {"suv_per_bqml", "weight_kg", "dose_at_scan_bq"};

bool is_known_split(const std::string& split) {
  return split == "train" || split == "val" || split == "test";
}

/// DRFs are JSON object keys ("low": {"2": ..., "2.5": ...}); integers are written without a
/// fraction so the keys read naturally, anything else with enough digits to round-trip.
std::string drf_key(double drf) {
  if (drf == std::round(drf) && std::abs(drf) < 1e15) {
    return std::to_string(static_cast<long long>(drf));
  }
  std::ostringstream out;
  out.precision(17);
  out << drf;
  return out.str();
}

}  // namespace

std::string drf_text(double drf) {
  std::ostringstream out;
  out << drf;
  return out.str();
}

namespace {

/// Reading context: every message starts with "<file>: <field>: " so a user sees which line of
/// which file to fix.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    UNIPET_FAIL(file_ << ": " << field << ": " << problem);
  }

  const json& member(const json& object, const std::string& key, const std::string& field) const {
    auto it = object.find(key);
    if (it == object.end()) fail(field, "missing");
    return *it;
  }

  std::string string(const json& value, const std::string& field) const {
    if (!value.is_string()) fail(field, "expected a string, got " + std::string(value.type_name()));
    return value.get<std::string>();
  }

  std::string nonempty_string(const json& value, const std::string& field) const {
    std::string text = string(value, field);
    if (text.empty()) fail(field, "must not be empty");
    return text;
  }

  double number(const json& value, const std::string& field) const {
    if (!value.is_number()) fail(field, "expected a number, got " + std::string(value.type_name()));
    return value.get<double>();
  }

  double drf(const json& value, const std::string& field) const {
    const double d = number(value, field);
    if (!(d > 1.0) || !std::isfinite(d)) fail(field, "a DRF must be a finite number > 1");
    return d;
  }

  const json& object(const json& value, const std::string& field) const {
    if (!value.is_object()) fail(field, "expected an object, got " + std::string(value.type_name()));
    return value;
  }

  /// A flat object of numbers and strings ("study", "info"), split by value type.
  void numbers_and_strings(const json& value, const std::string& field,
                           std::map<std::string, double>& numbers,
                           std::map<std::string, std::string>& strings) const {
    for (const auto& [key, item] : object(value, field).items()) {
      if (item.is_number()) {
        numbers[key] = item.get<double>();
      } else if (item.is_string()) {
        strings[key] = item.get<std::string>();
      } else {
        fail(field + "." + key, "expected a number or a string, got " +
                                    std::string(item.type_name()));
      }
    }
  }

  std::map<std::string, std::string> string_map(const json& value, const std::string& field) const {
    std::map<std::string, std::string> result;
    for (const auto& [key, item] : object(value, field).items()) {
      result[key] = nonempty_string(item, field + "." + key);
    }
    return result;
  }

 private:
  std::string file_;
};

DatasetSubject parse_subject(const Reader& r, const json& node, const std::string& field,
                             const std::set<double>& drfs) {
  r.object(node, field);
  DatasetSubject s;
  s.id = r.nonempty_string(r.member(node, "id", field + ".id"), field + ".id");
  s.split = r.string(r.member(node, "split", field + ".split"), field + ".split");
  if (!is_known_split(s.split)) {
    r.fail(field + ".split", "expected train, val or test, got '" + s.split + "'");
  }
  s.full_dose = r.nonempty_string(r.member(node, "full", field + ".full"), field + ".full");
  const std::string low_field = field + ".low";
  for (const auto& [key, path] : r.object(r.member(node, "low", low_field), low_field).items()) {
    double drf = 0;
    try {
      size_t used = 0;
      drf = std::stod(key, &used);
      if (used != key.size()) throw std::invalid_argument(key);
    } catch (const std::exception&) {
      r.fail(low_field, "key '" + key + "' is not a number");
    }
    if (!(drf > 1.0)) r.fail(low_field + "." + key, "a DRF must be > 1");
    if (!drfs.count(drf)) r.fail(low_field + "." + key, "DRF not listed in drfs");
    s.low_dose[drf] = r.nonempty_string(path, low_field + "." + key);
  }
  if (auto it = node.find("images"); it != node.end()) {
    s.images = r.string_map(*it, field + ".images");
  }
  if (auto it = node.find("info"); it != node.end()) {
    r.numbers_and_strings(*it, field + ".info", s.numbers, s.strings);
  }
  for (const char* key : kPositiveInfo)
    if (auto it = s.numbers.find(key); it != s.numbers.end() && !(it->second > 0))
      r.fail(field + ".info." + key, "must be a positive number, got " + std::to_string(it->second));
  return s;
}

/// The same rules read_dataset enforces, so a writer can never produce a file its reader rejects.
void check_writable(const Dataset& d, const std::string& path) {
  const std::string where = path + ": ";
  UNIPET_CHECK(!d.name.empty(), where << "name: must not be empty");
  UNIPET_CHECK(!d.source.empty(), where << "source: must not be empty");
  std::set<double> drfs;
  for (double drf : d.drfs) {
    UNIPET_CHECK(std::isfinite(drf) && drf > 1.0, where << "drfs: a DRF must be > 1, got " << drf);
    UNIPET_CHECK(drfs.insert(drf).second, where << "drfs: " << drf << " is listed twice");
  }
  for (const auto& [key, value] : d.numbers) {
    UNIPET_CHECK(std::isfinite(value), where << "study." << key << ": not a finite number");
  }
  std::set<std::string> ids;
  for (size_t i = 0; i < d.subjects.size(); ++i) {
    const DatasetSubject& s = d.subjects[i];
    const std::string field = where + "subjects[" + std::to_string(i) + "]";
    UNIPET_CHECK(!s.id.empty(), field << ".id: must not be empty");
    UNIPET_CHECK(ids.insert(s.id).second, field << ".id: '" << s.id << "' is not unique");
    UNIPET_CHECK(is_known_split(s.split),
                 field << ".split: expected train, val or test, got '" << s.split << "'");
    UNIPET_CHECK(!s.full_dose.empty(), field << ".full: must not be empty");
    for (const auto& [drf, rel] : s.low_dose) {
      UNIPET_CHECK(drfs.count(drf), field << ".low." << drf_key(drf) << ": DRF not listed in drfs");
      UNIPET_CHECK(!rel.empty(), field << ".low." << drf_key(drf) << ": must not be empty");
    }
    for (const auto& [key, value] : s.numbers) {
      UNIPET_CHECK(std::isfinite(value), field << ".info." << key << ": not a finite number");
    }
    for (const char* key : kPositiveInfo)
      if (auto it = s.numbers.find(key); it != s.numbers.end())
        UNIPET_CHECK(it->second > 0, field << ".info." << key << ": must be a positive number, got " << it->second);
  }
}

// Whole numbers (seeds, counts, sizes) are written as JSON integers so that they read as such;
// the reader takes any JSON number.
json number(double value) {
  if (std::isfinite(value) && std::floor(value) == value && std::abs(value) < 9007199254740992.0) {
    return static_cast<int64_t>(value);
  }
  return value;
}

json to_json(const Dataset& d) {
  std::vector<json> drfs;
  std::vector<double> sorted = d.drfs;
  std::sort(sorted.begin(), sorted.end());
  for (double drf : sorted) drfs.push_back(number(drf));
  json study = json::object();
  for (const auto& [key, value] : d.numbers) study[key] = number(value);
  for (const auto& [key, value] : d.strings) study[key] = value;
  json subjects = json::array();
  for (const DatasetSubject& s : d.subjects) {
    json low = json::object();
    for (const auto& [drf, rel] : s.low_dose) low[drf_key(drf)] = rel;
    json info = json::object();
    for (const auto& [key, value] : s.numbers) info[key] = number(value);
    for (const auto& [key, value] : s.strings) info[key] = value;
    // ordered_json is not needed: readers look fields up by name, and sorted keys diff well.
    subjects.push_back({{"id", s.id}, {"split", s.split}, {"full", s.full_dose}, {"low", low},
                        {"images", s.images}, {"info", info}});
  }
  return {{"format", kFormat}, {"version", kVersion},          {"name", d.name},
          {"source", d.source}, {"units", to_string(d.units)}, {"drfs", drfs},
          {"study", study},     {"subjects", subjects}};
}

}  // namespace

std::vector<const DatasetSubject*> Dataset::subjects_in_split(const std::string& split) const {
  std::vector<const DatasetSubject*> result;
  for (const DatasetSubject& s : subjects) {
    if (s.split == split) result.push_back(&s);
  }
  return result;
}

std::string Dataset::resolve(const std::string& relative) const {
  // Absolute paths are kept: an importer may describe images it does not copy.
  if (fs::path(relative).is_absolute() || root.empty()) return relative;
  return (fs::path(root) / relative).lexically_normal().string();
}

Dataset read_dataset(const std::string& path) {
  std::ifstream in(path);
  UNIPET_CHECK(in, path << ": cannot open dataset description");
  json root;
  try {
    root = json::parse(in);
  } catch (const json::exception& e) {
    UNIPET_FAIL(path << ": not valid JSON: " << e.what());
  }
  const Reader r(path);
  r.object(root, "(top level)");
  const std::string format = r.string(r.member(root, "format", "format"), "format");
  if (format != kFormat) r.fail("format", "expected '" + std::string(kFormat) + "', got '" + format + "'");
  const json& version = r.member(root, "version", "version");
  if (!version.is_number_integer() || version.get<int>() != kVersion) {
    r.fail("version", "unsupported version " + version.dump() + " (this build reads " +
                          std::to_string(kVersion) + ")");
  }

  Dataset d;
  d.name = r.nonempty_string(r.member(root, "name", "name"), "name");
  d.source = r.nonempty_string(r.member(root, "source", "source"), "source");
  const std::string units = r.string(r.member(root, "units", "units"), "units");
  try {
    d.units = units_from_string(units);
  } catch (const Error& e) {
    r.fail("units", e.what());
  }
  const json& drfs = r.member(root, "drfs", "drfs");
  if (!drfs.is_array()) r.fail("drfs", "expected an array of numbers");
  std::set<double> drf_set;
  for (size_t i = 0; i < drfs.size(); ++i) {
    const double drf = r.drf(drfs[i], "drfs[" + std::to_string(i) + "]");
    if (!drf_set.insert(drf).second) r.fail("drfs", drf_key(drf) + " is listed twice");
  }
  d.drfs.assign(drf_set.begin(), drf_set.end());
  if (auto it = root.find("study"); it != root.end()) {
    r.numbers_and_strings(*it, "study", d.numbers, d.strings);
  }

  const json& subjects = r.member(root, "subjects", "subjects");
  if (!subjects.is_array()) r.fail("subjects", "expected an array");
  if (subjects.empty()) r.fail("subjects", "the dataset has no subjects");
  std::set<std::string> ids;
  for (size_t i = 0; i < subjects.size(); ++i) {
    const std::string field = "subjects[" + std::to_string(i) + "]";
    DatasetSubject s = parse_subject(r, subjects[i], field, drf_set);
    if (!ids.insert(s.id).second) r.fail(field + ".id", "'" + s.id + "' is not unique");
    d.subjects.push_back(std::move(s));
  }
  d.root = fs::absolute(fs::path(path)).parent_path().lexically_normal().string();
  return d;
}

void write_dataset(const Dataset& dataset, const std::string& path) {
  check_writable(dataset, path);
  const fs::path target(path);
  std::optional<CreatedFolder> created;
  if (target.has_parent_path()) created.emplace(target.parent_path());
  // Atomic, so a killed writer leaves the previous dataset.json intact.
  write_file_atomically(path, to_json(dataset).dump(2) + "\n");
  if (created) created->keep();
}

double subject_suv_factor(const Dataset& dataset, const DatasetSubject& s) {
  if (dataset.units == Units::SUV) return 1.0;
  UNIPET_CHECK(dataset.units == Units::BqPerMl,
               dataset.root << "/dataset.json: images in " << to_string(dataset.units)
                            << " cannot be turned into SUV (expected Bq/ml or SUV)");
  const auto number = [&](const char* key) -> double {
    const auto it = s.numbers.find(key);
    return it == s.numbers.end() ? 0.0 : it->second;
  };
  if (number("suv_per_bqml") > 0) return number("suv_per_bqml");
  if (number("weight_kg") > 0 && number("dose_at_scan_bq") > 0)
    return suv_per_bqml(number("weight_kg"), number("dose_at_scan_bq"));
  throw Error(dataset.root + "/dataset.json: subject " + s.id +
              ": images are in Bq/ml but neither suv_per_bqml nor weight_kg and dose_at_scan_bq is given");
}

}  // namespace unipet::io
