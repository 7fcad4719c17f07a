// test_data_batch.cpp — batching: padding, keep mask and targets per head; the Batcher's
// epochs, exact state round-trip, and bucketing by length.
//
// What it is not: a test of the tasks' contents (test_data_tasks.cpp,
// test_data_files.cpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "normlab/core/error.h"
#include "normlab/data/task.h"

using nl::Batch;
using nl::Dataset;
using nl::Example;

namespace {

// n examples; example i has length 1 + (i*7) % max_len and classify label i (so a batch's
// targets say which examples it holds).
Dataset indexed(int n, int max_len) {
  Dataset d;
  for (int i = 0; i < n; ++i) {
    int L = 1 + (i * 7) % max_len;
    d.examples.push_back(Example{std::vector<int>(L, 1 + i % 5), {i}});
  }
  return d;
}

bool same_batch(const Batch& a, const Batch& b) {
  return a.B == b.B && a.T == b.T && a.tokens == b.tokens && a.targets == b.targets &&
         a.keep.to_vector() == b.keep.to_vector() && a.n_real == b.n_real;
}

}  // namespace

TEST_CASE("make_batch pads to the longest example, with keep mask and targets per head", "[data]") {
  Dataset d;
  d.examples = {Example{{5, 6, 7}, {1, 2, 3}}, Example{{8}, {4}}, Example{{2, 3}, {0, 1}}};

  Batch tag = nl::make_batch(d, {1, 0, 2}, "tag");
  CHECK(tag.B == 3);
  CHECK(tag.T == 3);
  CHECK(tag.tokens == std::vector<int>{8, 0, 0, 5, 6, 7, 2, 3, 0});
  CHECK(tag.keep.shape() == nl::Shape{3, 3});
  CHECK(tag.keep.to_vector() == std::vector<float>{1, 0, 0, 1, 1, 1, 1, 1, 0});
  CHECK_FALSE(tag.keep.requires_grad());
  CHECK(tag.targets == std::vector<int>{4, -1, -1, 1, 2, 3, 0, 1, -1});
  CHECK(tag.n_real == 6);

  Batch lm = nl::make_batch(d, {2, 1}, "lm");
  CHECK(lm.T == 2);
  CHECK(lm.tokens == std::vector<int>{2, 3, 8, 0});
  CHECK(lm.targets == std::vector<int>{0, 1, 4, -1});
  CHECK(lm.n_real == 3);

  Dataset c;
  c.examples = {Example{{1, 2}, {3}}, Example{{4, 4, 4, 4}, {0}}};
  Batch cl = nl::make_batch(c, {0, 1}, "classify");
  CHECK(cl.T == 4);
  CHECK(cl.tokens == std::vector<int>{1, 2, 0, 0, 4, 4, 4, 4});
  CHECK(cl.targets == std::vector<int>{3, 0});
  CHECK(cl.keep.to_vector() == std::vector<float>{1, 1, 0, 0, 1, 1, 1, 1});

  CHECK_THROWS_WITH(nl::make_batch(d, {0}, "classify"), Catch::StartsWith("make_batch: example 0 has 3 labels"));
  CHECK_THROWS_WITH(nl::make_batch(d, {}, "tag"), Catch::StartsWith("make_batch"));
  CHECK_THROWS_WITH(nl::make_batch(d, {3}, "tag"), Catch::StartsWith("make_batch: index 3"));
  CHECK_THROWS_WITH(nl::make_batch(d, {0}, "seq2seq"), Catch::StartsWith("make_batch: head"));
}

TEST_CASE("Batcher: each epoch is a shuffle of distinct examples, different every epoch", "[data]") {
  Dataset d = indexed(103, 20);
  for (bool bucket : {false, true}) {
    INFO("bucket " << bucket);
    nl::Batcher b(d, "classify", 10, bucket, 42);
    CHECK(b.batches_per_epoch() == 10);
    std::vector<std::vector<int>> epochs(3);
    for (int e = 0; e < 3; ++e)
      for (int k = 0; k < 10; ++k) {
        Batch batch = b.next();
        REQUIRE(batch.B == 10);
        epochs[e].insert(epochs[e].end(), batch.targets.begin(), batch.targets.end());
      }
    for (auto& ep : epochs) {
      std::set<int> distinct(ep.begin(), ep.end());
      CHECK(distinct.size() == 100);  // 3 of 103 sit out each epoch
    }
    CHECK(epochs[0] != epochs[1]);
    CHECK(epochs[1] != epochs[2]);
    CHECK(b.state().epoch == 2);
    CHECK(b.state().cursor == 10);
    // same seed -> same stream; other seed -> another
    nl::Batcher again(d, "classify", 10, bucket, 42), other(d, "classify", 10, bucket, 43);
    CHECK(same_batch(again.next(), nl::make_batch(d, std::vector<int>(epochs[0].begin(), epochs[0].begin() + 10), "classify")));
    CHECK(other.next().targets != std::vector<int>(epochs[0].begin(), epochs[0].begin() + 10));
  }
  // a set smaller than the batch is one batch of all of it
  Dataset small = indexed(4, 5);
  nl::Batcher s(small, "classify", 10, false, 1);
  Batch one = s.next();
  CHECK(one.B == 4);
  CHECK(std::set<int>(one.targets.begin(), one.targets.end()) == std::set<int>{0, 1, 2, 3});
}

TEST_CASE("Batcher state round-trips exactly: save after k batches, restore, same batches", "[data]") {
  nl::TaskConfig cfg;
  cfg.name = "histogram";
  cfg.train_size = 90;
  nl::TaskData td = nl::make_task(cfg, 3);
  for (bool bucket : {false, true}) {
    for (int k : {0, 3, 8, 9, 17}) {  // 8 batches per epoch: inside, at and across epoch ends
      INFO("bucket " << bucket << " k " << k);
      nl::Batcher a(td.train, td.head, 11, bucket, 7);
      for (int i = 0; i < k; ++i) a.next();
      nl::Batcher::State st = a.state();
      nl::Batcher b(td.train, td.head, 11, bucket, 7);
      b.set_state(st);
      for (int i = 0; i < 12; ++i) REQUIRE(same_batch(a.next(), b.next()));
      CHECK(a.state().epoch == b.state().epoch);
      CHECK(a.state().cursor == b.state().cursor);
    }
  }
  nl::Batcher a(td.train, td.head, 11, false, 7);
  CHECK_THROWS_AS(a.set_state({0, 9}), nl::UserError);
  CHECK_THROWS_AS(a.set_state({-1, 0}), nl::UserError);
}

TEST_CASE("bucketing by length cuts padding", "[data]") {
  Dataset d = indexed(512, 64);
  long all_tokens = 0;
  for (const Example& e : d.examples) all_tokens += (long)e.tokens.size();
  auto pads_per_epoch = [&](bool bucket) {
    nl::Batcher b(d, "classify", 16, bucket, 5);
    long pads = 0, real = 0;
    for (int k = 0; k < b.batches_per_epoch(); ++k) {
      Batch batch = b.next();
      pads += (long)batch.B * batch.T - batch.n_real;
      real += batch.n_real;
    }
    CHECK(real == all_tokens);  // 512 = 32 full batches: every example, either way
    return pads;
  };
  long plain = pads_per_epoch(false), bucketed = pads_per_epoch(true);
  INFO("pads per epoch: plain " << plain << ", bucketed " << bucketed);
  CHECK(bucketed * 5 < plain);
}
