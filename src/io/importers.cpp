#include "unipet/io/importers.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <sstream>

#include "unipet/core/text.h"
#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"
#include "unipet/io/dicom.h"
#include "unipet/io/image_io.h"

namespace unipet::io {

namespace fs = std::filesystem;

namespace {

// FNV-1a: a stable hash, so the split is the same on every platform and standard library.
uint64_t stable_hash(uint64_t seed, const std::string& text) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string describe_geometry(const Volume& v) {
  std::ostringstream out;
  const auto s = v.size_xyz();
  out << s[0] << "x" << s[1] << "x" << s[2] << " voxels, spacing " << v.spacing[0] << "/" << v.spacing[1]
      << "/" << v.spacing[2] << " mm, origin " << v.origin[0] << "/" << v.origin[1] << "/" << v.origin[2];
  return out.str();
}

void check_pair(const Volume& full, const std::string& full_path, const Volume& low,
                const std::string& low_path) {
  UNIPET_CHECK(same_geometry(full, low), "geometry mismatch between full-dose "
                                             << full_path << " (" << describe_geometry(full)
                                             << ") and low-dose " << low_path << " ("
                                             << describe_geometry(low) << ")");
}

// Images of unknown units (NIfTI carries none) are taken as Bq/ml, as the UDPET data are.
void require_bqml(Volume& v, const std::string& path) {
  UNIPET_CHECK(v.units == Units::BqPerMl || v.units == Units::Unknown,
               path << ": expected Bq/ml, got " << to_string(v.units));
  v.units = Units::BqPerMl;
}

std::string relative_to(const fs::path& path, const fs::path& folder) {
  return fs::relative(fs::absolute(path), fs::absolute(folder)).lexically_normal().string();
}

void finish(Dataset& d, const SplitOptions& split, const std::string& out) {
  UNIPET_CHECK(!d.subjects.empty(), out << ": no subjects found to import");
  std::sort(d.subjects.begin(), d.subjects.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  assign_splits(d.subjects, split);
  std::map<double, bool> drfs;
  for (const auto& s : d.subjects)
    for (const auto& [drf, path] : s.low_dose) drfs[drf] = true;
  for (const auto& [drf, _] : drfs) d.drfs.push_back(drf);
  d.units = Units::BqPerMl;
  write_dataset(d, out);
}

// A dataset.json path, checked before any work: a .json name (so no image is ever mistaken for
// it) that is not an existing folder. The folder itself may still have to be created.
void check_dataset_output(const std::string& out, const std::string& root) {
  UNIPET_CHECK(ends_with_ci(out, ".json"),
               out << ": -o/--out must name the dataset's .json file (e.g. data/udpet/dataset.json)");
  if (fs::exists(fs::symlink_status(out)) || is_directory(fs::path(out).parent_path().string()))
    check_output_path(out, {OutputKind::File, {root}});
}

// One UDPET dose entry of a patient: a DICOM folder or an image file.
struct UdpetEntry {
  double drf = 0;  // 1 for the full dose
  fs::path path;
};

// The patient folders under the UDPET root, sorted; staging folders of an unfinished import are skipped.
std::vector<fs::path> udpet_patient_folders(const std::string& root) {
  std::vector<fs::path> patients;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory() && !is_staging_name(e.path().filename().string())) patients.push_back(e.path());
  std::sort(patients.begin(), patients.end());
  return patients;
}

// A patient's dose entries sorted by DRF, the full dose first and one entry per DRF; none when the
// folder holds no dose entry (it is then not a patient folder, e.g. documentation).
std::vector<UdpetEntry> udpet_entries(const fs::path& patient) {
  std::vector<UdpetEntry> entries;
  for (const auto& e : fs::directory_iterator(patient)) {
    const double drf = udpet_drf_from_name(e.path().filename().string());
    const bool usable = e.is_directory() || is_image_path(e.path().string());
    if (drf > 0 && usable) entries.push_back({drf, e.path()});
  }
  if (entries.empty()) return entries;
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.drf < b.drf; });
  UNIPET_CHECK(entries.front().drf == 1.0, patient.string() << ": no Full_dose folder or file");
  for (size_t i = 1; i < entries.size(); ++i)
    UNIPET_CHECK(entries[i].drf != entries[i - 1].drf,
                 patient.string() << ": two entries for DRF " << entries[i].drf << " ("
                                  << entries[i - 1].path.filename().string() << ", "
                                  << entries[i].path.filename().string() << ")");
  return entries;
}

// Writes a converted DICOM series as images/ID/full_dose.nii.gz or images/ID/drf_N.nii.gz in the
// staging folder (made on first use) and returns that path relative to the dataset's folder.
std::string write_converted(const Volume& v, const std::string& id, double drf, const fs::path& out_dir,
                            std::optional<StagingDir>& images) {
  if (!images) images.emplace(out_dir / "images", OutputKind::Folder);
  const fs::path relative = fs::path("images") / id /
                            (drf == 1 ? std::string("full_dose.nii.gz") : "drf_" + drf_text(drf) + ".nii.gz");
  const fs::path image = images->dir() / relative;
  std::error_code ec;
  fs::create_directories(image.parent_path(), ec);
  UNIPET_CHECK(!ec, image.parent_path().string() << ": cannot create folder (" << ec.message() << ")");
  write_image(v, image.string());
  return relative.generic_string();
}

// One imported dose entry: its image, and the path dataset.json stores for it.
struct ImportedEntry {
  Volume volume;
  std::string stored;
};

// Reads one dose entry of subject `s`. A DICOM series also records its series UID on `s` (and,
// for the full dose, the weight and injected dose) and is converted with --convert-dicom.
ImportedEntry read_udpet_entry(const UdpetEntry& entry, const UdpetImportOptions& o, const fs::path& out_dir,
                               std::optional<StagingDir>& images, DatasetSubject& s) {
  const std::string source = entry.path.string();
  ImportedEntry imported;
  Volume& v = imported.volume;
  if (!fs::is_directory(entry.path)) {
    v = read_image(source);
    require_bqml(v, source);
    imported.stored = relative_to(entry.path, out_dir);
    return imported;
  }
  DicomSeries series = read_dicom_series(source);
  v = std::move(series.volume);
  s.strings["scanner_series_" + (entry.drf == 1 ? std::string("full") : "drf_" + drf_text(entry.drf))] =
      series.info.series_uid;
  if (entry.drf == 1) {
    if (series.suv_tags.patient_weight_kg) s.numbers["weight_kg"] = *series.suv_tags.patient_weight_kg;
    if (series.suv_tags.total_dose_bq) s.numbers["injected_dose_bq"] = *series.suv_tags.total_dose_bq;
  }
  require_bqml(v, source);
  imported.stored = o.convert_dicom ? write_converted(v, s.id, entry.drf, out_dir, images)
                                    : fs::absolute(entry.path).lexically_normal().string();
  return imported;
}

}  // namespace

void assign_splits(std::vector<DatasetSubject>& subjects, const SplitOptions& o) {
  UNIPET_CHECK(o.val_fraction >= 0 && o.test_fraction >= 0 && o.val_fraction + o.test_fraction < 1,
               "split fractions must be >= 0 with val + test < 1, got val " << o.val_fraction << ", test "
                                                                            << o.test_fraction);
  std::vector<size_t> order(subjects.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return stable_hash(o.seed, subjects[a].id) < stable_hash(o.seed, subjects[b].id);
  });
  const auto n = static_cast<double>(subjects.size());
  const auto n_test = static_cast<size_t>(std::lround(n * o.test_fraction));
  const auto n_val = static_cast<size_t>(std::lround(n * o.val_fraction));
  for (size_t rank = 0; rank < order.size(); ++rank)
    subjects[order[rank]].split = rank < n_test ? "test" : rank < n_test + n_val ? "val" : "train";
}

double udpet_drf_from_name(const std::string& name_in) {
  std::string name = lower(name_in);
  for (const char* ext : {".nii.gz", ".nii"})
    if (ends_with_ci(name, ext)) name = name.substr(0, name.size() - std::string(ext).size());
  static const std::regex full("full[ _-]?dose");
  static const std::regex low("1[-_ ]([0-9]+)[ _-]?dose");
  std::smatch m;
  if (std::regex_match(name, full)) return 1.0;
  if (std::regex_match(name, m, low)) return std::stod(m[1]);
  return 0.0;
}

Dataset import_udpet(const UdpetImportOptions& o) {
  UNIPET_CHECK(is_directory(o.root), o.root << ": not a folder");
  check_dataset_output(o.out, o.root);
  const fs::path out_dir = fs::absolute(o.out).parent_path();
  CreatedFolder created(out_dir);
  check_output_path(o.out, {OutputKind::File, {o.root}});
  // Converted images are staged together and published as one folder just before dataset.json,
  // so a failed import leaves no half-converted images behind.
  std::optional<StagingDir> images;
  const std::vector<fs::path> patients = udpet_patient_folders(o.root);

  Dataset d;
  d.name = o.name;
  d.source = "udpet";
  d.strings["root"] = fs::absolute(o.root).lexically_normal().string();
  for (const auto& patient : patients) {
    const std::vector<UdpetEntry> entries = udpet_entries(patient);
    if (entries.empty()) continue;  // not a patient folder (e.g. documentation)
    DatasetSubject s;
    s.id = patient.filename().string();
    s.strings["source_dir"] = fs::absolute(patient).lexically_normal().string();
    Volume full;
    std::string full_path;
    for (const auto& entry : entries) {
      ImportedEntry imported = read_udpet_entry(entry, o, out_dir, images, s);
      if (entry.drf == 1) {
        full = std::move(imported.volume);
        full_path = entry.path.string();
        s.full_dose = imported.stored;
      } else {
        check_pair(full, full_path, imported.volume, entry.path.string());
        s.low_dose[entry.drf] = imported.stored;
      }
    }
    d.subjects.push_back(std::move(s));
  }
  UNIPET_CHECK(!d.subjects.empty(), o.out << ": no subjects found to import");
  if (images) images->publish({"images"});
  try {
    finish(d, o.split, o.out);
  } catch (...) {
    // The images folder was created by this run a moment ago (publish refuses to fill an
    // existing one), so it is ours to take back.
    std::error_code ec;
    if (images) fs::remove_all(out_dir / "images", ec);
    throw;
  }
  created.keep();
  return d;
}

namespace {

// `pattern` as a regex: {id} captures one path component's worth of characters, * matches them.
std::regex pattern_regex(const std::string& pattern) {
  std::string re;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern.compare(i, 4, "{id}") == 0) {
      re += "([^/]+)";
      i += 3;
    } else if (pattern[i] == '*') {
      re += "[^/]*";
    } else {
      if (std::string("\\^$.|?+()[]{}").find(pattern[i]) != std::string::npos) re += '\\';
      re += pattern[i];
    }
  }
  return std::regex(re);
}

std::string substitute(std::string text, const std::string& key, const std::string& value) {
  for (size_t at; (at = text.find(key)) != std::string::npos;) text.replace(at, key.size(), value);
  return text;
}

}  // namespace

Dataset import_pairs(const PairsImportOptions& o) {
  const std::string& pattern = o.full_pattern;
  const auto first_id = pattern.find("{id}");
  UNIPET_CHECK(first_id != std::string::npos && pattern.find("{id}", first_id + 1) == std::string::npos,
               "--full pattern must contain {id} exactly once, got '" << pattern << "'");
  UNIPET_CHECK(!o.drfs.empty(), "give at least one --drf");
  UNIPET_CHECK(o.low_patterns.size() == 1 || o.low_patterns.size() == o.drfs.size(),
               "give one --low pattern (using {drf}) or one per --drf; got "
                   << o.low_patterns.size() << " for " << o.drfs.size() << " DRFs");
  for (double drf : o.drfs) UNIPET_CHECK(drf > 1, "--drf must be > 1, got " << drf);
  UNIPET_CHECK(o.low_patterns.size() > 1 || o.drfs.size() == 1 ||
                   o.low_patterns.front().find("{drf}") != std::string::npos,
               "--low pattern must contain {drf} when several DRFs share it");

  // Search from the last folder before the first wildcard.
  const auto wildcard = std::min(pattern.find('*'), first_id);
  const auto slash = pattern.rfind('/', wildcard);
  const std::string base = slash == std::string::npos ? "." : pattern.substr(0, slash == 0 ? 1 : slash);
  const std::string prefix = slash == std::string::npos ? "./" : "";
  UNIPET_CHECK(is_directory(base), "--full pattern: folder " << base << " does not exist");
  const std::regex full_re = pattern_regex(prefix + pattern);
  std::map<std::string, std::string> full_by_id;
  for (const auto& e : fs::recursive_directory_iterator(base)) {
    if (!e.is_regular_file()) continue;
    std::string path = e.path().generic_string();
    if (!prefix.empty() && path.rfind("./", 0) != 0) path = "./" + path;
    std::smatch m;
    if (std::regex_match(path, m, full_re)) full_by_id[m[1]] = e.path().string();
  }
  UNIPET_CHECK(!full_by_id.empty(), "--full pattern '" << pattern << "' matches no file");

  check_dataset_output(o.out, "");
  const fs::path out_dir = fs::absolute(o.out).parent_path();
  Dataset d;
  d.name = o.name;
  d.source = "nifti-pairs";
  d.strings["full_pattern"] = o.full_pattern;
  for (const auto& [id, full_path] : full_by_id) {
    DatasetSubject s;
    s.id = id;
    Volume full = read_image(full_path);
    require_bqml(full, full_path);
    s.full_dose = relative_to(full_path, out_dir);
    for (size_t i = 0; i < o.drfs.size(); ++i) {
      const std::string& low_pattern =
          o.low_patterns.size() == 1 ? o.low_patterns.front() : o.low_patterns[i];
      const std::string low_path =
          substitute(substitute(low_pattern, "{id}", id), "{drf}", drf_text(o.drfs[i]));
      UNIPET_CHECK(fs::exists(low_path), "subject " << id << ": low-dose file " << low_path << " (DRF "
                                                    << o.drfs[i] << ") does not exist");
      Volume low = read_image(low_path);
      require_bqml(low, low_path);
      check_pair(full, full_path, low, low_path);
      s.low_dose[o.drfs[i]] = relative_to(low_path, out_dir);
    }
    d.subjects.push_back(std::move(s));
  }
  finish(d, o.split, o.out);
  return d;
}

}  // namespace unipet::io
