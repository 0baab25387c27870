#pragma once
// dicom3tools' validators, run on a folder of DICOM files: dciodvfy checks each file against its
// IOD (PET Image: every required module and attribute), dcentvfy checks that the files agree on
// what belongs to the patient, study, series and equipment. `./run` installs dicom3tools, so a
// missing tool fails the test instead of skipping it.
#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace unipet::test {

/// Every "Error" line dciodvfy reports for each file in `folder` and dcentvfy for all of them,
/// each prefixed with the file it is about; "" when the series is valid.
inline std::string dicom_validation_errors(const std::string& folder) {
  for (const char* tool : {"dciodvfy", "dcentvfy"})
    if (!on_path(tool)) return std::string(tool) + " is not on PATH: install dicom3tools (./run does)";
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder))
    if (entry.is_regular_file()) files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  if (files.empty()) return folder + ": no files";
  std::string errors, all;
  auto collect = [&](const std::string& what, const std::string& output) {
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("Error", 0) == 0) errors += what + ": " + line + "\n";
  };
  for (const auto& file : files) {
    collect(std::filesystem::path(file).filename().string(), run_command("dciodvfy " + q(file)).output);
    all += " " + q(file);
  }
  collect("dcentvfy", run_command("dcentvfy" + all).output);
  return errors;
}

}  // namespace unipet::test
