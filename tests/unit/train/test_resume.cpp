// test_resume.cpp — `train --resume` never damages a run: every check happens before the run
// folder changes, the whole stored config is compared, the step must be in range, and a
// finished run stays byte-identical.
//
// What it is not: the bit-identical continuation itself (test_train.cpp) nor signals
// (test_signals.cpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>

#include "normlab/config/config.h"
#include "normlab/core/error.h"
#include "normlab/train/checkpoint.h"
#include "normlab/train/resume.h"
#include "normlab/train/run_lock.h"
#include "testutil/process.h"

namespace fs = std::filesystem;
using testutil::slurp;
using testutil::TempDir;

namespace {

const std::string kSrc = NORMLAB_SOURCE_DIR;
const std::string kTiny = kSrc + "/configs/tiny.json";
// 20 steps, logging every 5, evaluation at the end only: about a second.
const std::string kShort = " --quiet --set train.steps=20 --set optim.warmup_steps=0 --set train.log_every=5"
                           " --set train.eval_every=0";

// Every file of a run folder, by name, with its bytes (but the lock, which names the pid of
// the last process that held it).
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename() != nl::RunLock::kFileName) files[e.path().filename().string()] = slurp(e.path());
  return files;
}

// Rewrite one metadata value of a checkpoint (the tensors stay as they are).
void set_metadata(const fs::path& ckpt, const std::string& key, const std::string& value) {
  nl::SafetensorsFile f = nl::load_safetensors(ckpt.string());
  std::vector<nl::NamedTensor> tensors;
  for (auto& [name, t] : f.tensors) tensors.push_back({name, t});
  f.metadata[key] = value;
  nl::save_safetensors(ckpt.string(), tensors, f.metadata);
}

}  // namespace

TEST_CASE("a failed --resume leaves the finished run byte-identical", "[resume]") {
  TempDir t("resume_fail");
  const fs::path run = t / "run";
  REQUIRE(testutil::normlab("train " + kTiny + " --out " + run.string() + kShort).code == 0);
  REQUIRE(fs::exists(run / "result.json"));
  const fs::path ckpt = run / "checkpoint.safetensors";
  const std::string good_ckpt = slurp(ckpt);

  struct Case { std::string name, set; int code; std::string expect; std::string ckpt_bytes; };
  std::vector<Case> cases = {
      // a changed model, optimizer, task or seed: exit 2 naming the first differing key, both values
      {"model", " --set model.layers=2", 2, "--resume: model.layers is 2 but the checkpoint " + ckpt.string() +
                                                 " was trained with 1", good_ckpt},
      {"optimizer", " --set optim.lr=0.01", 2, "--resume: optim.lr is 0.01 but the checkpoint", good_ckpt},
      {"task", " --set task.symbols=5", 2, "--resume: task.symbols is 5 but the checkpoint", good_ckpt},
      {"seed", " --set train.seed=7", 2, "--resume: train.seed is 7 but the checkpoint", good_ckpt},
      {"kernels", " --set train.kernels=reference", 2, "--resume: train.kernels is \"reference\"", good_ckpt},
      // run length shorter than the checkpoint's step
      {"steps", " --set train.steps=10", 2, "--resume: train.steps is 10 but the checkpoint " + ckpt.string() +
                                                " is at step 20", good_ckpt},
      // a corrupt checkpoint: exit 1 naming the file
      {"truncated", "", 1, "checkpoint " + ckpt.string() + ": ", good_ckpt.substr(0, good_ckpt.size() / 2)},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    std::ofstream(ckpt, std::ios::binary) << c.ckpt_bytes;
    const auto before = snapshot(run);
    // kShort's own --set train.steps=20 comes first; the case's --set wins.
    testutil::Run r = testutil::normlab("train " + kTiny + " --out " + run.string() + kShort + c.set + " --resume");
    INFO(r.err);
    CHECK(r.code == c.code);
    CHECK(testutil::count_lines(r.err) == 1);
    CHECK(r.err.find(c.expect) != std::string::npos);
    CHECK(snapshot(run) == before);  // config.json, metrics.csv, result.json, checkpoint: all as they were
  }
}

TEST_CASE("train --resume rejects a metadata step outside 0..train.steps, changing nothing", "[resume]") {
  TempDir t("resume_step");
  const fs::path run = t / "run";
  REQUIRE(testutil::normlab("train " + kTiny + " --out " + run.string() + kShort + " --stop-after 10").code == 0);
  const fs::path ckpt = run / "checkpoint.safetensors";
  for (const char* step : {"99999", "-5", "12abc", ""}) {
    INFO(step);
    set_metadata(ckpt, "step", step);
    const auto before = snapshot(run);
    testutil::Run r = testutil::normlab("train " + kTiny + " --out " + run.string() + kShort + " --resume");
    INFO(r.err);
    CHECK(r.code == 1);
    CHECK(testutil::count_lines(r.err) == 1);
    CHECK(r.err.find("checkpoint " + ckpt.string() + ": __metadata__.step") != std::string::npos);
    CHECK(snapshot(run) == before);
  }
}

TEST_CASE("train --resume of a finished run runs nothing and leaves result.json byte-identical", "[resume]") {
  TempDir t("resume_done");
  const fs::path run = t / "run";
  REQUIRE(testutil::normlab("train " + kTiny + " --out " + run.string() + kShort).code == 0);
  const auto before = snapshot(run);
  // log_every may change on resume; still nothing to run.
  testutil::Run r = testutil::normlab("train " + kTiny + " --out " + run.string() + kShort +
                                      " --set train.log_every=2 --resume");
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.err.find("already finished at step 20 of 20; nothing to run, result.json left as it was") != std::string::npos);
  CHECK(snapshot(run) == before);

  // Killed between the last checkpoint and result.json: the resume evaluates and writes it,
  // with the same evaluation and final loss as the run would have written.
  const nlohmann::json want = nlohmann::json::parse(before.at("result.json"));
  fs::remove(run / "result.json");
  REQUIRE(testutil::normlab("train " + kTiny + " --out " + run.string() + kShort + " --resume").code == 0);
  const nlohmann::json got = nlohmann::json::parse(slurp(run / "result.json"));
  CHECK(got["steps"] == 20);
  CHECK(got["final_train_loss"] == want["final_train_loss"]);
  CHECK(got["eval"] == want["eval"]);
  CHECK(slurp(run / "metrics.csv") == before.at("metrics.csv"));
}

TEST_CASE("train --resume may change run length and cadence, and the extended run finishes", "[resume]") {
  TempDir t("resume_extend");
  const fs::path run = t / "run";
  REQUIRE(testutil::normlab("train " + kTiny + " --out " + run.string() + kShort).code == 0);
  testutil::Run r = testutil::normlab("train " + kTiny + " --out " + run.string() + kShort +
                                      " --set train.steps=30 --set train.log_every=10 --set train.checkpoint_every=15"
                                      " --set train.threads=2 --resume");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(slurp(run / "result.json"))["steps"] == 30);
  CHECK(nlohmann::json::parse(slurp(run / "config.json"))["train"]["steps"] == 30);
  CHECK(testutil::data_rows(run / "metrics.csv") == 4 + 1);  // 5,10,15,20 then 30
}

TEST_CASE("first_config_difference: whole config, allowed keys ignored, older checkpoints' missing keys", "[resume]") {
  const nlohmann::json base = nl::config_to_json(nl::load_config(kTiny));
  std::string a, b;
  CHECK(nl::first_config_difference(base, base, &a, &b) == "");

  nlohmann::json now = base;
  for (const std::string& k : nl::resume_may_change()) {
    const std::string section = k.substr(0, k.find('.')), key = k.substr(k.find('.') + 1);
    now[section][key] = now[section][key].is_string() ? nlohmann::json("elsewhere") : nlohmann::json(12345);
  }
  CHECK(nl::first_config_difference(base, now, &a, &b) == "");

  now = base;
  now["model"]["norm"]["type"] = "rmsnorm";
  now["optim"]["lr"] = 0.5;
  CHECK(nl::first_config_difference(base, now, &a, &b) == "model.norm.type");  // the first in key order
  CHECK(a == "\"layernorm\"");
  CHECK(b == "\"rmsnorm\"");

  // A checkpoint written before a key existed: the key counts as its default.
  nlohmann::json old = base;
  old["train"].erase("kernels");
  CHECK(nl::first_config_difference(old, base, &a, &b) == "");
  now = base;
  now["train"]["kernels"] = "reference";
  CHECK(nl::first_config_difference(old, now, &a, &b) == "train.kernels");
  // A key the running build does not know (stored by a newer one) is a difference too.
  old = base;
  old["model"]["future_key"] = 1;
  CHECK(nl::first_config_difference(old, base, &a, &b) == "model.future_key");
  CHECK(b == "(absent)");
}

TEST_CASE("a byte flipped in a checkpoint's tensor data: resume and eval refuse it, one line, exit 1", "[resume]") {
  TempDir t("resume_flip");
  const fs::path run = t / "run";
  REQUIRE(testutil::normlab("train " + kTiny + " --out " + run.string() + kShort + " --stop-after 10").code == 0);
  const fs::path ckpt = run / "checkpoint.safetensors";
  std::string bytes = slurp(ckpt);
  bytes[bytes.size() - 1000] ^= 0x10;  // inside the data: the optimizer's last moments
  std::ofstream(ckpt, std::ios::binary) << bytes;
  const auto before = snapshot(run);

  testutil::Run r = testutil::normlab("train " + kTiny + " --out " + run.string() + kShort + " --resume");
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(testutil::count_lines(r.err) == 1);
  CHECK(r.err.rfind("normlab: error: checkpoint " + ckpt.string() + ": tensor data is corrupt: CRC32 ", 0) == 0);
  CHECK(snapshot(run) == before);

  testutil::Run e = testutil::normlab("eval " + kTiny + " --checkpoint " + ckpt.string());
  CHECK(e.code == 1);
  CHECK(testutil::count_lines(e.err) == 1);
  CHECK(e.err.find("tensor data is corrupt") != std::string::npos);
}

TEST_CASE("a checkpoint written before checksums resumes with a one-line note", "[resume]") {
  TempDir t("resume_nocrc");
  const fs::path run = t / "run";
  REQUIRE(testutil::normlab("train " + kTiny + " --out " + run.string() + kShort + " --stop-after 10").code == 0);
  // Rewrite the file as an older normlab did: the same header without data_crc32 and
  // header_crc32.
  const fs::path ckpt = run / "checkpoint.safetensors";
  const std::string bytes = slurp(ckpt);
  uint64_t N = 0;
  for (int i = 0; i < 8; ++i) N |= (uint64_t)(unsigned char)bytes[i] << (8 * i);
  nlohmann::ordered_json header = nlohmann::ordered_json::parse(bytes.substr(8, N));
  REQUIRE(header["__metadata__"].contains(nl::kDataCrc32Key));
  header["__metadata__"].erase(nl::kDataCrc32Key);
  header["__metadata__"].erase(nl::kHeaderCrc32Key);
  std::string text = header.dump();
  std::string len(8, '\0');
  for (int i = 0; i < 8; ++i) len[i] = (char)((uint64_t)text.size() >> (8 * i));
  std::ofstream(ckpt, std::ios::binary) << len << text << bytes.substr(8 + N);

  testutil::Run r = testutil::normlab("train " + kTiny + " --out " + run.string() + kShort + " --resume");
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.err == "normlab: note: checkpoint " + ckpt.string() +
                     " has no data_crc32 or header_crc32 (written before checksums or by another tool); its tensor "
                     "data and its header are not verified\n");
  CHECK(nlohmann::json::parse(slurp(run / "result.json"))["steps"] == 20);
  // The checkpoint it writes has one again.
  CHECK(nl::load_safetensors(ckpt.string()).metadata.count(nl::kDataCrc32Key) == 1);
}
