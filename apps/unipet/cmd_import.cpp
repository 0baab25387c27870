#include <iostream>
#include <memory>

#include "commands.h"
#include "unipet/io/importers.h"

namespace unipet::cli {

namespace {

void add_split_options(CLI::App* cmd, io::SplitOptions& split) {
  cmd->add_option("--val", split.val_fraction, "Fraction of subjects in the val split")
      ->capture_default_str();
  cmd->add_option("--test", split.test_fraction, "Fraction of subjects in the test split")
      ->capture_default_str();
  cmd->add_option("--split-seed", split.seed, "Seed of the deterministic split")->capture_default_str();
}

void report(const io::Dataset& d, const std::string& out) {
  std::cout << out << ": " << d.subjects.size() << " subjects (" << d.subjects_in_split("train").size()
            << " train, " << d.subjects_in_split("val").size() << " val, "
            << d.subjects_in_split("test").size() << " test), DRFs";
  for (double drf : d.drfs) std::cout << " " << drf;
  std::cout << "\n";
}

}  // namespace

void setup_import(CLI::App& app) {
  auto* cmd = app.add_subcommand("import", "Describe real PET data with a dataset.json");
  cmd->require_subcommand(1);

  auto udpet = std::make_shared<io::UdpetImportOptions>();
  auto* u = cmd->add_subcommand("udpet",
                                "UDPET challenge layout: ROOT/<patient>/{Full_dose, 1-<k> dose} "
                                "as DICOM folders or NIfTI files");
  u->add_option("root", udpet->root, "Folder with one folder per patient")->required();
  u->add_option("-o,--out", udpet->out, "dataset.json to write (DICOM is converted to NIfTI beside it)")
      ->capture_default_str();
  u->add_option("--name", udpet->name, "Dataset name")->capture_default_str();
  u->add_flag("!--no-convert", udpet->convert_dicom,
              "Reference DICOM folders instead of converting them to NIfTI");
  add_split_options(u, udpet->split);
  u->callback([udpet] { report(io::import_udpet(*udpet), udpet->out); });

  auto pairs = std::make_shared<io::PairsImportOptions>();
  auto* p = cmd->add_subcommand("pairs",
                                "A folder of image pairs, e.g. --full 'data/{id}_full.nii.gz' "
                                "--low 'data/{id}_drf{drf}.nii.gz' --drf 4 --drf 20");
  p->add_option("--full", pairs->full_pattern,
                "Full-dose path pattern with {id} ('*' matches within a folder)")
      ->required();
  p->add_option("--low", pairs->low_patterns, "Low-dose pattern with {id} and {drf}, or one per --drf")
      ->required();
  p->add_option("--drf", pairs->drfs, "Dose reduction factor(s), each > 1")->required();
  p->add_option("-o,--out", pairs->out, "dataset.json to write")->capture_default_str();
  p->add_option("--name", pairs->name, "Dataset name")->capture_default_str();
  add_split_options(p, pairs->split);
  p->callback([pairs] { report(io::import_pairs(*pairs), pairs->out); });
}

}  // namespace unipet::cli
