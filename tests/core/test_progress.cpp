#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "unipet/core/progress.h"

namespace unipet {
namespace {

TEST(Progress, PrintsOnePlainLinePerUpdateWhenNotOnATerminal) {
  std::ostringstream out;
  Progress p(out, "train", 100, 40, /*terminal=*/false);
  p.update(50, "loss 0.1");
  p.message("step 50 validation: PSNR 40 dB");
  p.update(60, "loss 0.09");
  p.finish();
  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_NE(text.find("train 50/100"), std::string::npos) << text;
  EXPECT_NE(text.find("loss 0.1"), std::string::npos) << text;
  EXPECT_NE(text.find("ETA"), std::string::npos) << text;
}

TEST(Progress, RedrawsOneLineInPlaceOnATerminal) {
  std::ostringstream out;
  Progress p(out, "train", 10, 0, /*terminal=*/true);
  p.update(1, "a");
  p.update(2, "b");   // within 200 ms of the last draw: skipped
  p.update(10, "c");  // the last unit is always drawn
  p.message("kept");
  p.finish();
  const std::string text = out.str();
  EXPECT_EQ(text.find("2/10"), std::string::npos) << text;
  EXPECT_NE(text.find("\r\033[Ktrain [########################] 10/10"), std::string::npos) << text;
  EXPECT_NE(text.find("\r\033[Kkept\n"), std::string::npos) << text;
}

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(format_duration(12.4), "12s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(3725), "1h02m");
  EXPECT_EQ(format_duration(-1), "?");
}

}  // namespace
}  // namespace unipet
