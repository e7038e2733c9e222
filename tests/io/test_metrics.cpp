// MetricsLogger (append, truncate on resume), RunDir and Progress.
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "io_test_util.h"
#include "nets/io/metrics.h"
#include "nets/io/progress.h"
#include "nets/io/run_dir.h"

using namespace vkwb;
using namespace vkwb::io;
using test::contains;
using test::error_message;
using test::read_text;

namespace {
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) out.push_back(text.substr(start, nl - start));
  return out;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(csv_and_jsonl_rows) {
  test::TempDir dir;
  {
    MetricsLogger log(dir.path());
    log.log(10, {{"loss", 0.5}, {"acc", 0.25}});
    log.log(20, {{"acc", 0.75}, {"loss", 0.125}, {"lr", 0.001}});  // lr is new: JSON lines only
    log.log(30, {{"loss", std::nan("")}});                          // acc missing: empty cell
    // Flushed per row: readable while the logger is alive.
    BOOST_TEST(lines_of(read_text(dir.file("metrics.csv"))).size() == 4u);
  }
  BOOST_TEST(read_text(dir.file("metrics.csv")) == "step,loss,acc\n10,0.5,0.25\n20,0.125,0.75\n30,nan,\n");
  const auto lines = lines_of(read_text(dir.file("metrics.jsonl")));
  BOOST_REQUIRE(lines.size() == 3u);
  BOOST_TEST(lines[0] == R"({"step":10,"loss":0.5,"acc":0.25})");
  const auto j1 = nlohmann::json::parse(lines[1]);
  BOOST_TEST(j1["lr"].get<double>() == 0.001);
  BOOST_TEST(nlohmann::json::parse(lines[2])["loss"].is_null());
}

BOOST_AUTO_TEST_CASE(resume_truncates_rows_after_the_checkpoint) {
  test::TempDir dir;
  {
    MetricsLogger log(dir.path());
    for (int s = 1; s <= 5; ++s) log.log(s * 100, {{"loss", 1.0 / s}, {"episodes", s}});
  }
  // Crash after step 500 while the checkpoint is from step 300: resume drops 400 and 500.
  {
    MetricsLogger log(dir.path(), /*append=*/true, /*resume_step=*/300);
    BOOST_TEST(log.csv_columns() == (std::vector<std::string>{"step", "loss", "episodes"}), boost::test_tools::per_element());
    log.log(400, {{"episodes", 4}, {"loss", 0.2}});
  }
  const auto csv = lines_of(read_text(dir.file("metrics.csv")));
  BOOST_TEST(csv == (std::vector<std::string>{"step,loss,episodes", "100,1,1", "200,0.5,2", "300,0.3333333333333333,3", "400,0.2,4"}),
             boost::test_tools::per_element());
  const auto jsonl = lines_of(read_text(dir.file("metrics.jsonl")));
  BOOST_REQUIRE(jsonl.size() == 4u);
  BOOST_TEST(nlohmann::json::parse(jsonl[3])["step"].get<int>() == 400);

  // Append without a resume step keeps everything; a torn last line is dropped.
  {
    std::FILE* f = std::fopen(dir.file("metrics.csv").c_str(), "ab");
    std::fputs("500,0.1", f);  // no newline: died mid-write
    std::fclose(f);
    f = std::fopen(dir.file("metrics.jsonl").c_str(), "ab");
    std::fputs("{\"step\":500,\"lo", f);
    std::fclose(f);
    MetricsLogger log(dir.path(), true);
    log.log(500, {{"loss", 0.1}, {"episodes", 5}});
  }
  BOOST_TEST(lines_of(read_text(dir.file("metrics.csv"))).back() == "500,0.1,5");
  BOOST_TEST(lines_of(read_text(dir.file("metrics.csv"))).size() == 6u);
  BOOST_TEST(lines_of(read_text(dir.file("metrics.jsonl"))).size() == 5u);

  // A fresh (non-append) logger starts over.
  { MetricsLogger log(dir.path()); }
  BOOST_TEST(read_text(dir.file("metrics.csv")).empty());
  // Appending to a run that never logged anything works too.
  test::TempDir empty;
  {
    MetricsLogger log(empty.path(), true, 0);
    log.log(1, {{"x", 2}});
  }
  BOOST_TEST(read_text(empty.file("metrics.csv")) == "step,x\n1,2\n");
  // A header torn by a crash is replaced, not appended to.
  test::write_bytes(empty.file("metrics.csv"), {'s', 't', 'e'});
  {
    MetricsLogger log(empty.path(), true, 5);
    log.log(2, {{"y", 3}});
  }
  BOOST_TEST(read_text(empty.file("metrics.csv")) == "step,y\n2,3\n");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(run_dir)

BOOST_AUTO_TEST_CASE(create_config_resume_latest) {
  test::TempDir dir;
  RunDir run({.runs_root = dir.path(), .name = "dqn-catch"});
  BOOST_TEST(std::filesystem::is_directory(run.checkpoints_dir()));
  BOOST_TEST(std::filesystem::is_directory(run.samples_dir()));
  run.write_config({{"lr", 0.001}, {"seed", 3}});
  BOOST_TEST(run.read_config()["seed"].get<int>() == 3);
  BOOST_TEST(!run.latest_checkpoint());

  const std::string again = error_message([&] { RunDir r({.runs_root = dir.path(), .name = "dqn-catch"}); });
  BOOST_TEST(contains(again, "already holds a run; pass --resume"), again);
  BOOST_TEST(contains(error_message([&] { RunDir r({.runs_root = dir.path(), .name = "other", .resume = true}); }),
                      "cannot resume"));
  BOOST_TEST(contains(error_message([&] { RunDir r({.runs_root = dir.path(), .name = "../x"}); }), "invalid run name"));

  RunDir resumed({.runs_root = dir.path(), .name = "dqn-catch", .resume = true});
  BOOST_TEST(resumed.checkpoint_path(1000) == resumed.checkpoints_dir() + "/step_0000001000.ckpt");
  for (int64_t s : {500, 20000, 3000}) test::write_bytes(resumed.checkpoint_path(s), {1});
  test::write_bytes(resumed.checkpoints_dir() + "/step_0000900000.ckpt.tmp.123.abcdef", {1});  // interrupted write
  BOOST_TEST(*resumed.latest_checkpoint_step() == 20000);
  BOOST_TEST(*resumed.latest_checkpoint() == resumed.checkpoint_path(20000));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(progress)

namespace {
struct MemStream {
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  ~MemStream() {
    if (f) std::fclose(f);
    std::free(buf);
  }
  std::string text() {
    std::fflush(f);
    return std::string(buf, len);
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(plain_lines_are_rate_limited) {
  MemStream out;
  double t = 0;
  {
    Progress p(1000, "train", {.stream = out.f, .plain_interval_seconds = 2.0, .tty = 0, .clock = [&] { return t; }});
    for (int i = 1; i <= 1000; ++i) {
      t = i * 0.005;  // 5 fake seconds in total
      p.update(i, "loss 0.1");
    }
    p.finish();
  }
  const auto lines = lines_of(out.text());
  // First update, then at t >= 2 and t >= 4, then finish.
  BOOST_TEST(lines.size() == 4u, out.text());
  BOOST_TEST(lines.back().rfind("train 100% 1000/1000 200/s 5s loss 0.1", 0) == 0u, lines.back());
  BOOST_TEST(contains(lines[1], "ETA"), lines[1]);
  BOOST_TEST(out.text().find('\r') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(tty_redraws_at_most_ten_per_second) {
  MemStream out;
  double t = 0;
  Progress p(0, "collect", {.stream = out.f, .tty = 1, .clock = [&] { return t; }});
  for (int i = 1; i <= 1000; ++i) {
    t = i * 0.001;  // one fake second
    p.update(i);
  }
  p.finish();
  const std::string text = out.text();
  const auto redraws = std::count(text.begin(), text.end(), '\r');
  BOOST_TEST(redraws <= 12);
  BOOST_TEST(redraws >= 10);
  BOOST_TEST(text.back() == '\n');
  BOOST_TEST(format_duration(3725) == "1h02m");
  BOOST_TEST(format_duration(65) == "1m05s");
}

BOOST_AUTO_TEST_SUITE_END()
