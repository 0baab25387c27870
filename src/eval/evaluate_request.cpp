#include "unipet/eval/evaluate_request.h"

#include <algorithm>
#include <sstream>

#include "unipet/core/compute.h"
#include "unipet/core/error.h"

namespace unipet::eval {

std::string EvaluateOutcome::summary() const {
  if (pair) return pair_scores;
  const size_t cells = std::max<size_t>(1, result.subjects.size() * result.drfs.size());
  std::ostringstream out;
  out << "scored " << result.subjects.size() << " subject(s) x " << result.drfs.size() << " DRF(s) x "
      << result.scores.size() / cells << " method(s): " << this->out << "/index.html, metrics.csv, summary.md (denoising "
      << static_cast<int>(result.denoise_seconds) << " s, scoring " << static_cast<int>(result.scoring_seconds)
      << " s)\n";
  return out.str();
}

EvaluateOutcome run_evaluate_request(EvaluateRequest r, std::ostream& log) {
  apply_compute(r.options.denoise.compute);
  EvaluateOutcome outcome;
  if (!r.pred.empty() || !r.ref.empty()) {
    UNIPET_CHECK(!r.pred.empty() && !r.ref.empty(), "--pred and --ref go together");
    UNIPET_CHECK(r.options.dataset.empty() && r.methods.empty(),
                 "--pred/--ref score one pair; --dataset and --method evaluate a dataset: give one or the other");
    outcome.pair = true;
    outcome.pair_scores = score_pair(r.pred, r.ref, r.mask, r.lesions, r.options.data_range);
    return outcome;
  }
  UNIPET_CHECK(!r.options.dataset.empty(), "give --dataset DIR/dataset.json (or --pred and --ref for one pair)");
  UNIPET_CHECK(r.mask.empty() && r.lesions.empty(),
               "--mask and --lesions apply to --pred/--ref; a dataset's lesion labels come from its dataset.json");
  for (const std::string& m : r.methods) r.options.methods.push_back(parse_method(m));
  for (const std::string& b : r.baselines)
    if (b != "none") r.options.baselines.push_back(b);
  outcome.out = r.options.out;
  outcome.result = run_evaluation(r.options, log);
  return outcome;
}

}  // namespace unipet::eval
