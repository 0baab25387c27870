#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "unipet/core/command_line.h"
#include "unipet/core/device.h"
#include "unipet/core/error.h"

namespace unipet::cli {

std::string command_line(int argc, char** argv) { return shell_command(std::vector<std::string>(argv, argv + argc)); }

}  // namespace unipet::cli

namespace {

// Errors reach the user as exactly one line: a library message that spans lines (a LibTorch or
// ITK one) is folded, never cut, so nothing that names the problem is lost.
int report_error(std::string message) {
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  while (!message.empty() && message.back() == ' ') message.pop_back();
  std::cerr << "unipet: error: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  unipet::keep_freed_memory_for_reuse();
  // A file-size limit (ulimit -f, quotas) then fails the write with EFBIG, which every writer
  // reports, instead of killing the process with SIGXFSZ halfway through a file.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"unipet: one PET denoiser for every dose level (UniPET, LibTorch)"};
  app.require_subcommand(1);
  unipet::cli::setup_demo(app);
  unipet::cli::setup_speed(app);
  unipet::cli::setup_simulate(app);
  unipet::cli::setup_info(app);
  unipet::cli::setup_convert(app, argc, argv);
  unipet::cli::setup_import(app);
  unipet::cli::setup_train(app, argc, argv);
  unipet::cli::setup_denoise(app, argc, argv);
  unipet::cli::setup_evaluate(app, argc, argv);
  unipet::cli::setup_calibrate(app);
  unipet::cli::setup_estimate_drf(app);
  unipet::cli::setup_serve(app, argc, argv);
  // CLI11 would say "A subcommand is required" for a mistyped one; name what was typed instead.
  if (argc > 1 && argv[1][0] != '-') {
    std::string known;
    bool found = false;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      found = found || sub->get_name() == argv[1];
      known += (known.empty() ? "" : ", ") + sub->get_name();
    }
    if (!found) return report_error(std::string("unknown command '") + argv[1] + "' (expected " + known + ")");
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return report_error(std::string(e.what()) + " (see unipet --help)");
  } catch (const unipet::Error& e) {
    return report_error(e.what());
  } catch (const c10::Error& e) {
    // LibTorch's what() carries a C++ backtrace; the user needs the message alone.
    return report_error(e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    return report_error("out of memory (try a smaller size or fewer threads)");
  } catch (const std::exception& e) {
    return report_error(e.what());
  }
  return 0;
}
