#include <iostream>

#include "commands.h"
#include "unipet/core/device.h"
#include "unipet/core/error.h"

int main(int argc, char** argv) {
  unipet::keep_freed_memory_for_reuse();
  CLI::App app{"unipet: one PET denoiser for every dose level (UniPET, LibTorch)"};
  app.require_subcommand(1);
  unipet::cli::setup_demo(app);
  unipet::cli::setup_simulate(app);
  unipet::cli::setup_info(app);
  unipet::cli::setup_convert(app);
  unipet::cli::setup_import(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const unipet::Error& e) {
    std::cerr << "unipet: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "unipet: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
