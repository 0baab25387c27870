#pragma once
/// What this build of unipet is, for model files and reports that must say what made them.

namespace unipet {

/// The project version (CMakeLists.txt), e.g. "0.1.0".
const char* version();

/// The git commit the library was built from (40 hex digits, with "-dirty" when tracked files had
/// uncommitted changes), or "unknown" when it was not built from a git checkout.
const char* git_commit();

}  // namespace unipet
