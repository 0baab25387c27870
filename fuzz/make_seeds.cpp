// Writes the seed corpus of one fuzz target: make_seeds TARGET FOLDER (see fuzz/fuzz_seeds.h).
#include <filesystem>
#include <fstream>
#include <iostream>

#include "fuzz_seeds.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: " << argv[0] << " TARGET FOLDER\n";
    return 2;
  }
  namespace fs = std::filesystem;
  try {
    const fs::path folder = argv[2];
    const fs::path work = folder / ".work";
    fs::remove_all(work);
    fs::create_directories(work);
    const auto seeds = unipet::fuzz::make_seeds(argv[1], work);
    fs::remove_all(work);
    for (const auto& seed : seeds) {
      std::ofstream(folder / seed.name, std::ios::binary) << seed.bytes;
    }
    std::cout << argv[1] << ": " << seeds.size() << " seeds in " << folder.string() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "make_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
