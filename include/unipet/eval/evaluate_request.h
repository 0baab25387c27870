#pragma once
/// What `unipet evaluate` is asked, as typed, and the rules that make a run of it: the library
/// side of the command, so the CLI only parses and prints.
///
///   unipet::eval::EvaluateRequest r;
///   r.options.dataset = "test/dataset.json"; r.options.out = "report";
///   r.methods = {"UniPET=model.safetensors"};
///   auto outcome = unipet::eval::run_evaluate_request(r, std::cerr);
///   std::cout << outcome.summary();
///
/// The rules: either one pair (`pred` and `ref`, with an optional `mask` and `lesions`) or a
/// dataset (`options.dataset`, with `methods`), never both; `mask` and `lesions` belong to a pair
/// (a dataset's lesion labels come from its dataset.json); the baseline "none" drops the
/// baselines. Everything else is run_evaluation's (evaluation.h).
#include <iosfwd>
#include <string>
#include <vector>

#include "unipet/eval/evaluation.h"

namespace unipet::eval {

struct EvaluateRequest {
  EvaluationOptions options;               ///< its methods and baselines are filled from below
  std::vector<std::string> methods;        ///< NAME=MODEL_FILE or NAME=FOLDER, as typed
  std::vector<std::string> baselines{"lowdose", "gaussian"};  ///< "none" for no baseline
  std::string pred, ref, mask, lesions;    ///< one pair instead of a dataset
};

struct EvaluateOutcome {
  bool pair = false;        ///< one pair was scored: `pair_scores`; else a dataset: `result`
  std::string pair_scores;  ///< score_pair's text
  EvaluationResult result;
  std::string out;          ///< the report folder

  /// What the command prints on stdout: the pair's scores, or one line naming the report.
  std::string summary() const;
};

/// Checks and runs the request (the compute options applied first), with progress on `log`.
/// Throws unipet::Error naming the option or file at fault.
EvaluateOutcome run_evaluate_request(EvaluateRequest request, std::ostream& log);

}  // namespace unipet::eval
