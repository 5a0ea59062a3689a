#include "obs/progress.h"

#include <gtest/gtest.h>

#include <cmath>

#include "obs_helpers.h"

namespace plait::obs {
using testing::contents;

TEST(Format, SiUnits) {
  EXPECT_EQ(format_si(0), "0");
  EXPECT_EQ(format_si(0.5), "0.5");
  EXPECT_EQ(format_si(950), "950");
  EXPECT_EQ(format_si(999.4), "999");
  EXPECT_EQ(format_si(999.7), "1k");  // rounds into the next unit, not "1e+03"
  EXPECT_EQ(format_si(1234), "1.23k");
  EXPECT_EQ(format_si(14213), "14.2k");
  EXPECT_EQ(format_si(142130), "142k");
  EXPECT_EQ(format_si(1.5e6), "1.5M");
  EXPECT_EQ(format_si(2.345e9), "2.35G");
  EXPECT_EQ(format_si(3e12), "3T");
  EXPECT_EQ(format_si(std::nan("")), "-");
  EXPECT_EQ(format_si(-1), "-");
  EXPECT_EQ(format_si(INFINITY), "-");
}

TEST(Format, Durations) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(7.4), "7s");
  EXPECT_EQ(format_duration(59.4), "59s");
  EXPECT_EQ(format_duration(59.6), "1m00s");
  EXPECT_EQ(format_duration(192), "3m12s");
  EXPECT_EQ(format_duration(3599), "59m59s");
  EXPECT_EQ(format_duration(3725), "1h02m");
  EXPECT_EQ(format_duration(86340), "23h59m");
  EXPECT_EQ(format_duration(86399), "1d00h");  // 1439.98 min rounds to a whole day
  EXPECT_EQ(format_duration(183600), "2d03h");
  EXPECT_EQ(format_duration(std::nan("")), "?");
  EXPECT_EQ(format_duration(-3), "?");
  EXPECT_EQ(format_duration(INFINITY), "?");
}

TEST(Format, LossAndScientific) {
  EXPECT_EQ(format_loss(2.34123), "2.3412");
  EXPECT_EQ(format_loss(5.5451774), "5.5452");
  EXPECT_EQ(format_loss(std::nan("")), "nan");
  EXPECT_EQ(format_loss(INFINITY), "inf");
  EXPECT_EQ(format_sci(3e-4), "3.00e-04");
}

TEST(Format, ProgressLine) {
  ProgressSnapshot s;
  s.step = 120;
  s.total = 1000;
  s.loss = 2.34123;
  s.tokens_per_s = 14213;
  s.eta_s = 192;
  EXPECT_EQ(format_progress(s), "step 120/1000 | loss 2.3412 | 14.2k tok/s | ETA 3m12s");
  s.extra = {{"val loss", "2.4107"}, {"lr", "3.00e-04"}};
  EXPECT_EQ(
      format_progress(s),
      "step 120/1000 | loss 2.3412 | 14.2k tok/s | ETA 3m12s | val loss 2.4107 | lr 3.00e-04");
  s.step = 1000;
  s.elapsed_s = 754;
  s.extra.clear();
  EXPECT_EQ(format_progress(s), "step 1000/1000 | loss 2.3412 | 14.2k tok/s | done in 12m34s");
}

TEST(Progress, EtaAndRateFromSmoothedStepTime) {
  FILE* f = std::tmpfile();
  ProgressOptions opt;
  opt.out = f;
  opt.tty = 0;
  {
    Progress p(100, opt);
    EXPECT_TRUE(std::isnan(p.snapshot().eta_s));
    EXPECT_EQ(p.snapshot().step, 0);
    // 10 steps of exactly 0.5 s, 2048 tokens each.
    for (int s = 1; s <= 10; ++s) p.update_at(0.5 * s, s, 3.0, 2048);
    EXPECT_NEAR(p.step_time_s(), 0.5, 1e-12);
    ProgressSnapshot snap = p.snapshot();
    EXPECT_NEAR(snap.tokens_per_s, 4096, 1e-6);
    EXPECT_NEAR(snap.eta_s, 90 * 0.5, 1e-9);
    EXPECT_EQ(p.line(), "step 10/100 | loss 3.0000 | 4.1k tok/s | ETA 45s");
    // Updates every 5 steps: the interval is divided among the steps it covers.
    p.update_at(5.0 + 2.5, 15, 2.9, 5 * 2048);
    EXPECT_NEAR(p.step_time_s(), 0.5, 1e-12);
    // A slow stretch moves the estimate, but only by the smoothing weight (0.1).
    p.update_at(7.5 + 1.5, 16, 2.9, 2048);
    EXPECT_NEAR(p.step_time_s(), 0.9 * 0.5 + 0.1 * 1.5, 1e-12);
  }  // the Progress writes its last line: before its FILE closes
  std::fclose(f);
}

TEST(Progress, ResumedRunCountsOnlyItsOwnSteps) {
  FILE* f = std::tmpfile();
  ProgressOptions opt;
  opt.out = f;
  opt.tty = 0;
  {
    Progress p(20, opt, /*first_step=*/10);
    p.update_at(2.0, 11, 1.0, 100);  // one step in 2 s (not 11 steps)
    EXPECT_NEAR(p.step_time_s(), 2.0, 1e-12);
    EXPECT_NEAR(p.snapshot().eta_s, 18.0, 1e-9);
  }
  std::fclose(f);
}

TEST(Progress, PlainLinesAreThrottled) {
  FILE* f = std::tmpfile();
  ProgressOptions opt;
  opt.out = f;
  opt.tty = 0;
  opt.plain_every_s = 5;
  {
    Progress p(80, opt);
    for (int s = 1; s <= 80; ++s) p.update_at(0.125 * s, s, 1.0, 10);  // 10 s in all, exact
  }
  std::string text = contents(f);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_EQ(text.find("\x1b"), std::string::npos);
  // The first step (t = 0.125 s), the first step 5 s later (41, t = 5.125 s), the last.
  EXPECT_NE(text.find("step 1/80 |"), std::string::npos) << text;
  EXPECT_NE(text.find("step 41/80 |"), std::string::npos) << text;
  EXPECT_NE(text.find("step 80/80 |"), std::string::npos) << text;
  EXPECT_NE(text.find("done in 10s"), std::string::npos) << text;
  size_t lines = std::count(text.begin(), text.end(), '\n');
  EXPECT_EQ(lines, 3u) << text;
  std::fclose(f);
}

TEST(Progress, PlainEveryNSteps) {
  FILE* f = std::tmpfile();
  ProgressOptions opt;
  opt.out = f;
  opt.tty = 0;
  opt.plain_every_s = 1e9;
  opt.plain_every_steps = 10;
  {
    Progress p(35, opt);
    for (int s = 1; s <= 30; ++s) p.update_at(0.01 * s, s, 1.0, 10);
  }  // never reached 35: finish() prints the last state once
  std::string text = contents(f);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4) << text;  // 1, 10, 20, 30
  EXPECT_NE(text.find("step 30/35 |"), std::string::npos) << text;
  std::fclose(f);
}

TEST(Progress, TerminalRedrawsInPlaceAndMessagesDoNotGarble) {
  FILE* f = std::tmpfile();
  ProgressOptions opt;
  opt.out = f;
  opt.tty = 1;
  {
    Progress p(3, opt);
    p.update_at(1, 1, 2.0, 10);
    p.set("val loss", format_loss(2.5));
    p.message("checkpoint saved");
    p.update_at(2, 2, 1.9, 10);
    p.update_at(3, 3, 1.8, 10);
  }
  std::string text = contents(f);
  EXPECT_EQ(text.rfind("\r", 0), 0u);  // starts with a carriage return
  EXPECT_NE(text.find("\r\x1b[Kcheckpoint saved\n"), std::string::npos) << text;
  EXPECT_NE(text.find("step 3/3 | loss 1.8000 | 10 tok/s | done in 3s | val loss 2.5000\x1b[K\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.back(), '\n');
  std::fclose(f);
}

}  // namespace plait::obs
