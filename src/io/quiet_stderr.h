#pragma once
// Internal to src/io: silences the process's stderr for a scope.
//
// ITK's NIfTI and MetaImage code (niftilib, MetaIO) print their complaints with fprintf(stderr)
// and std::cerr and then carry on; unipet checks the outcome itself and reports one line naming
// the file. Redirecting file descriptor 2 catches both streams. It is process-wide, so it is
// only used around single calls into those libraries.
namespace unipet::io::detail {

class QuietStderr {
 public:
  QuietStderr();
  ~QuietStderr();
  QuietStderr(const QuietStderr&) = delete;
  QuietStderr& operator=(const QuietStderr&) = delete;

 private:
  int saved_ = -1;
};

}  // namespace unipet::io::detail
