#pragma once
/// Seed inputs for the fuzz targets, made by the library's own writers (so they follow the writers
/// as the formats evolve) plus a few hand-made files and near misses.
///
///   for (const auto& seed : unipet::fuzz::make_seeds("fuzz_image", scratch_folder)) ...
///
/// Used by fuzz/make_seeds.cpp (the corpora of fuzz/run.sh) and by the test that checks every
/// valid seed is accepted and every "bad-" seed rejected by its entry point.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_entry_points.h"
#include "unipet/core/volume.h"
#include "unipet/io/dataset.h"
#include "unipet/io/dicom.h"
#include "unipet/io/image_io.h"
#include "unipet/io/safetensors.h"

namespace unipet::fuzz {

struct Seed {
  std::string name;   ///< file name in the corpus; "bad-..." when the reader must reject it
  std::string bytes;  ///< the input as the entry point takes it
  bool valid() const { return name.rfind("bad-", 0) != 0; }
};

/// The fuzz targets, in the order fuzz/run.sh runs them.
inline const std::vector<std::string>& fuzz_targets() {
  static const std::vector<std::string> targets = {"fuzz_safetensors", "fuzz_dataset_json", "fuzz_image",
                                                   "fuzz_dicom_series"};
  return targets;
}

/// Runs the entry point of `target` ("fuzz_image", ...) on `bytes`; throws on an unknown target.
inline bool run_entry_point(const std::string& target, const std::string& bytes) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  if (target == "fuzz_safetensors") return fuzz_safetensors(data, bytes.size());
  if (target == "fuzz_dataset_json") return fuzz_dataset_json(data, bytes.size());
  if (target == "fuzz_image") return fuzz_image(data, bytes.size());
  if (target == "fuzz_dicom_series") return fuzz_dicom_series(data, bytes.size());
  throw std::invalid_argument("unknown fuzz target '" + target + "'");
}

namespace detail {

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// 5 x 4 x 3 voxels (x, y, z) of distinct positive values on an oblique grid (30 degrees about z),
/// so a reader that drops or transposes any part of the geometry shows it.
inline Volume seed_volume(Units units) {
  Volume v;
  v.data = torch::arange(60, torch::kFloat32).reshape({3, 4, 5}).mul(0.75).add(1.5);
  v.spacing = {2.0, 2.5, 3.0};
  v.origin = {-10.0, 5.5, 20.25};
  const double c = std::cos(M_PI / 6), s = std::sin(M_PI / 6);
  v.direction = {c, -s, 0, s, c, 0, 0, 0, 1};
  v.units = units;
  return v;
}

inline std::string u64_le(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

inline std::vector<Seed> safetensors_seeds() {
  io::SafetensorsFile file;
  file.tensors["conv.weight"] = torch::arange(6, torch::kFloat32).reshape({2, 3});
  file.tensors["scalar"] = torch::tensor(2.5, torch::kFloat64);
  file.tensors["empty"] = torch::zeros({0, 4}, torch::kInt64);
  file.tensors["half"] = torch::ones({3}, torch::kFloat16);
  file.tensors["bf16"] = torch::ones({2}, torch::kBFloat16);
  file.tensors["i32"] = torch::arange(3, torch::kInt32);
  file.tensors["i16"] = torch::arange(2, torch::kInt16);
  file.tensors["i8"] = torch::arange(2, torch::kInt8);
  file.tensors["u8"] = torch::arange(4, torch::kUInt8);
  file.tensors["mask"] = torch::ones({2}, torch::kBool);
  file.metadata = {{"unipet.kind", "UniPET"}, {"unipet.width", "8"}, {"format", "pt"}};
  const std::string full = io::serialize_safetensors(file);
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}})";
  return {
      {"all-dtypes.safetensors", full},
      {"empty.safetensors", io::serialize_safetensors(io::SafetensorsFile{})},
      {"minimal.safetensors", u64_le(2) + "{}"},
      {"bad-truncated.safetensors", full.substr(0, full.size() - 3)},
      {"bad-overlap.safetensors", u64_le(header.size()) + header + std::string(8, '\1')},
  };
}

inline std::vector<Seed> dataset_seeds(const std::filesystem::path& work) {
  io::Dataset d;
  d.name = "seed";
  d.source = "simulated";
  d.drfs = {2.5, 4, 20};
  d.numbers = {{"seed", 1}, {"voxel_mm", 4}};
  d.strings = {{"tracer", "FDG"}};
  for (int i = 0; i < 2; ++i) {
    io::DatasetSubject s;
    s.id = "sub" + std::to_string(i);
    s.split = i == 0 ? "train" : "test";
    s.full_dose = s.id + "/full.nii.gz";
    s.low_dose = {{2.5, s.id + "/drf2.5.nii.gz"}, {20, s.id + "/drf20.nii.gz"}};
    s.images = {{"mumap", s.id + "/mu.nii.gz"}};
    s.numbers = {{"weight_kg", 71.5}, {"counts_full", 2e8}};
    s.strings = {{"scanner", "sim"}};
    d.subjects.push_back(s);
  }
  const auto path = work / "dataset.json";
  io::write_dataset(d, path.string());
  const std::string minimal =
      R"({"format":"unipet-dataset","version":1,"name":"n","source":"s","units":"Bq/ml","drfs":[4],)"
      R"("subjects":[{"id":"a","split":"val","full":"f.nii","low":{"4":"l.nii"}}]})";
  std::string bad_version = minimal;
  bad_version.replace(bad_version.find("\"version\":1"), 11, "\"version\":2");
  return {{"written.json", read_file(path)}, {"minimal.json", minimal}, {"bad-version.json", bad_version}};
}

inline std::vector<Seed> image_seeds(const std::filesystem::path& work) {
  std::vector<Seed> seeds;
  const auto add = [&](ImageFormat format, const std::string& name, const std::string& body) {
    seeds.push_back({name, std::string(1, static_cast<char>(format)) + body});
  };
  const Volume bq = seed_volume(Units::BqPerMl);
  const auto written = [&](const std::string& ext, const Volume& v) {
    const auto dir = work / ext;
    std::filesystem::create_directories(dir);
    io::write_image(v, (dir / ("image." + ext)).string());
    return dir;
  };
  add(ImageFormat::Nii, "written.nii", read_file(written("nii", bq) / "image.nii"));
  const std::string nii_gz = read_file(written("nii.gz", bq) / "image.nii.gz");
  add(ImageFormat::NiiGz, "written.nii.gz", nii_gz);
  add(ImageFormat::NiiGzZippedHere, "written-zipped-here.nii", read_file(work / "nii" / "image.nii"));
  add(ImageFormat::Mha, "written.mha", read_file(written("mha", bq) / "image.mha"));
  add(ImageFormat::Mha, "written-suv.mha",
      read_file(written("suv.mha", seed_volume(Units::SUV)) / "image.suv.mha"));
  add(ImageFormat::Nrrd, "written.nrrd", read_file(written("nrrd", bq) / "image.nrrd"));
  for (const auto& [ext, format] : {std::pair{std::string("mhd"), ImageFormat::MhdPair},
                                    std::pair{std::string("nhdr"), ImageFormat::NhdrPair}}) {
    const auto dir = written(ext, bq);
    std::string data;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().filename() != "image." + ext) data = read_file(entry.path());
    }
    add(format, "written-" + ext + "-pair", read_file(dir / ("image." + ext)) + '\0' + data);
  }
  std::string voxels(8 * sizeof(float), '\0');
  for (int i = 0; i < 8; ++i) {
    const float value = 0.5f * static_cast<float>(i);
    std::memcpy(&voxels[i * sizeof(float)], &value, sizeof(float));
  }
  add(ImageFormat::Mha, "hand.mha",
      "ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementSpacing = 1 1 2\nElementType = MET_FLOAT\n"
      "ElementDataFile = LOCAL\n" +
          voxels);
  add(ImageFormat::Nrrd, "hand.nrrd",
      "NRRD0004\ntype: float\ndimension: 3\nsizes: 2 2 2\nspacings: 1 1 2\nencoding: raw\nendian: "
      "little\n\n" +
          voxels);
  add(ImageFormat::Mha, "bad-2d.mha",
      "ObjectType = Image\nNDims = 2\nDimSize = 2 4\nElementType = MET_FLOAT\nElementDataFile = LOCAL\n" +
          voxels);
  const std::string nii = read_file(work / "nii" / "image.nii");
  add(ImageFormat::Nii, "bad-truncated.nii", nii.substr(0, nii.size() - 7));
  add(ImageFormat::NiiGz, "bad-truncated.nii.gz", nii_gz.substr(0, nii_gz.size() / 2));
  return seeds;
}

inline std::vector<Seed> dicom_seeds(const std::filesystem::path& work) {
  io::write_dicom_series(seed_volume(Units::BqPerMl), (work / "series").string());
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(work / "series")) {
    files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  const auto join = [&](const std::vector<std::string>& paths) {
    std::string out;
    for (size_t i = 0; i < paths.size(); ++i) out += (i ? kDicomFileSeparator : "") + read_file(paths[i]);
    return out;
  };
  return {
      {"written-3-slices", join(files)},
      {"written-2-slices", join({files[0], files[1]})},
      {"bad-1-slice", join({files[0]})},
      {"bad-repeated-slice", join({files[0], files[1], files[1]})},
  };
}

}  // namespace detail

/// The seeds of `target`; `work` is an empty scratch folder for the writers.
inline std::vector<Seed> make_seeds(const std::string& target, const std::filesystem::path& work) {
  if (target == "fuzz_safetensors") return detail::safetensors_seeds();
  if (target == "fuzz_dataset_json") return detail::dataset_seeds(work);
  if (target == "fuzz_image") return detail::image_seeds(work);
  if (target == "fuzz_dicom_series") return detail::dicom_seeds(work);
  throw std::invalid_argument("unknown fuzz target '" + target + "'");
}

}  // namespace unipet::fuzz
