// README.md's "Shared options" table against the real `--help` of every command, both ways: a
// command with a ✓ lists the option, a command without one does not. The table is how a user
// learns that one word means one thing across commands; this keeps it true.
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace unipet::test {
namespace {

std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  std::stringstream in(row.substr(1));  // past the leading '|'
  for (std::string cell; std::getline(in, cell, '|');) {
    const auto first = cell.find_first_not_of(' '), last = cell.find_last_not_of(' ');
    out.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
  }
  if (!out.empty() && out.back().empty()) out.pop_back();  // after the closing '|'
  return out;
}

struct OptionTable {
  std::vector<std::string> commands;
  std::vector<std::pair<std::vector<std::string>, std::vector<bool>>> rows;  ///< names, ✓ per command
};

OptionTable read_table() {
  std::ifstream readme(std::string(UNIPET_TEST_DATA_DIR) + "/../../README.md");
  OptionTable t;
  bool in_table = false;
  for (std::string line; std::getline(readme, line);) {
    if (line.rfind("| option | meaning |", 0) == 0) {
      const auto header = cells(line);
      t.commands.assign(header.begin() + 2, header.end());
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (line.rfind("| ---", 0) == 0) continue;
    if (line.rfind("|", 0) != 0) break;
    const auto row = cells(line);
    std::vector<std::string> names;
    const std::regex name("--?[a-z][a-z0-9-]*");
    for (std::sregex_iterator it(row[0].begin(), row[0].end(), name), end; it != end; ++it) names.push_back(it->str());
    std::vector<bool> marks;
    for (size_t c = 2; c < row.size(); ++c) marks.push_back(row[c] == "✓");
    marks.resize(t.commands.size(), false);
    t.rows.push_back({names, marks});
  }
  return t;
}

// The option names of a command's --help ("-o,--out TEXT ..." gives -o and --out).
std::set<std::string> help_options(const std::string& command) {
  const CommandResult r = unipet_cli(command + " --help");
  EXPECT_EQ(r.status, 0) << command << ": " << r.output;
  std::set<std::string> out;
  std::stringstream in(r.output);
  const std::regex option_line(R"(^\s+((?:-[a-z],)?--[a-z][a-z0-9-]*))");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, option_line)) continue;
    std::stringstream names(m[1].str());
    for (std::string n; std::getline(names, n, ',');) out.insert(n);
  }
  return out;
}

TEST(SharedOptions, TheReadmeTableMatchesEveryCommandsHelp) {
  const OptionTable t = read_table();
  ASSERT_EQ(t.commands.size(), 12u) << "the table's header changed";
  ASSERT_GE(t.rows.size(), 12u) << "the table's rows were not found";
  for (size_t c = 0; c < t.commands.size(); ++c) {
    // "import" is its two subcommands together.
    std::set<std::string> options;
    for (const std::string& command : t.commands[c] == "import" ? std::vector<std::string>{"import udpet", "import pairs"}
                                                                 : std::vector<std::string>{t.commands[c]}) {
      const auto more = help_options(command);
      options.insert(more.begin(), more.end());
    }
    ASSERT_TRUE(options.count("--help")) << t.commands[c] << ": no --help parsed";
    for (const auto& [names, marks] : t.rows)
      for (const std::string& n : names)
        EXPECT_EQ(options.count(n) == 1, marks[c])
            << t.commands[c] << (marks[c] ? " lacks " : " has, though the table says not, ") << n;
  }
}

TEST(SharedOptions, OlderSpellingsAreHiddenFromHelp) {
  const auto simulate = help_options("simulate");
  for (const char* old : {"--split", "--iterations", "--subsets"}) EXPECT_FALSE(simulate.count(old)) << old;
  EXPECT_TRUE(simulate.count("--osem-iterations"));
  EXPECT_FALSE(help_options("speed").count("--dtype"));
}

}  // namespace
}  // namespace unipet::test
