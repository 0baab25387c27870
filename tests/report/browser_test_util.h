#pragma once
// Headless Chromium for the report tests: load a page, capture its console and DOM, count what
// decoded. Debian's chromium package; tests skip when it is missing (./run installs it).
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace unipet::test {

inline bool have_chromium() { return std::system("command -v chromium > /dev/null 2>&1") == 0; }

inline size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++n;
  return n;
}

// Appended by the test only (the report itself has no script): it proves that console
// messages reach the log, and records in the DOM how many pictures decoded once the page loaded.
inline const char* const kProbe = R"(<script>
console.log("unipet-probe-ran");
window.addEventListener("load", function () {
  var decoded = 0;
  for (var i = 0; i < document.images.length; ++i) {
    if (document.images[i].complete && document.images[i].naturalWidth > 0) ++decoded;
  }
  document.body.setAttribute("data-decoded", decoded + "/" + document.images.length);
});
</script>
)";

struct BrowserRun {
  int status = -1;
  std::string out, log;
};

inline BrowserRun run_chromium(const TempDir& dir, const std::string& mode, const std::string& page) {
  const std::string command =
      "timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
      "--hide-scrollbars --user-data-dir='" +
      dir / "profile" +
      "' --enable-logging=stderr "
      "--v=0 --window-size=1280,2000 " +
      mode + " 'file://" + page + "' > '" + dir / "out" + "' 2> '" + dir / "log" + "'";
  BrowserRun run;
  run.status = std::system(command.c_str());
  run.out = read_bytes(dir / "out");
  run.log = read_bytes(dir / "log");
  return run;
}

// Console lines other than the probe's: Chromium logs every level (errors, uncaught exceptions,
// refused loads) as "CONSOLE".
inline std::vector<std::string> unexpected_console_lines(const std::string& log) {
  std::vector<std::string> lines;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find("CONSOLE") != std::string::npos && line.find("unipet-probe-ran") == std::string::npos) {
      lines.push_back(line);
    }
  }
  return lines;
}


/// `html` with the probe inserted before </body>, for run_chromium.
inline std::string with_probe(std::string html) {
  html.insert(html.rfind("</body>"), kProbe);
  return html;
}

}  // namespace unipet::test
