#pragma once
/// The one way a command line is recorded (model files, DICOM and BIDS provenance, reports).
#include <string>
#include <vector>

namespace unipet {

/// `argv` as a POSIX shell takes it back (arguments with other than [A-Za-z0-9_./=,:+-@%] are
/// single-quoted), with the program as "unipet": a record says how a file was made, and the path
/// of the binary that made it says nothing about that.
std::string shell_command(const std::vector<std::string>& argv);

}  // namespace unipet
