#pragma once
// A simulated subject on disk: its folder name, the record of the options that made it
// (subject.json, compared on resume), and the folder published whole. Private to src/sim.
#include <filesystem>
#include <map>
#include <string>

#include "unipet/io/dataset.h"
#include "unipet/sim/simulate.h"

namespace unipet::sim::detail {

/// "sim0007" for a phantom; "003_<file stem>" for a user image (prefixed, so two inputs with the
/// same file name stay distinct).
std::string subject_id(const SimulationOptions& options, int64_t index);

/// Every option that changes a subject's content: stored in dataset.json and in each
/// subject.json, and compared on resume.
std::map<std::string, double> content_numbers(const SimulationOptions& options);
std::map<std::string, std::string> content_strings(const SimulationOptions& options);

/// A mu-map file, checked to be in 1/cm at 511 keV.
Volume read_mumap(const std::string& path);

/// The subject's record from a previous run, when it was made with the same options (false: no
/// folder yet). Subject folders are published whole, so one without its record or with files
/// missing was not made by this version of unipet and is refused rather than overwritten.
bool load_complete_subject(const std::filesystem::path& dir, const io::Dataset& expected, io::DatasetSubject& out);

/// Writes the subject into a staging folder and publishes the folder whole: a subject folder
/// exists only once complete, so a killed or failed run never leaves half a subject behind.
io::DatasetSubject write_subject(const SimulatedSubject& s, const std::filesystem::path& final_dir,
                                 const std::string& id, io::Dataset record);

/// An existing output folder is continued only when everything in it came from a simulation:
/// dataset.json, subject folders with their record, staging folders. Anything else means the
/// folder is someone else's, and nothing is written into it.
void check_output_folder(const std::filesystem::path& root, const SimulationOptions& options);

/// The subject's paths relative to the dataset's folder.
io::DatasetSubject relative_to_dataset(io::DatasetSubject s, const std::string& id);

}  // namespace unipet::sim::detail
