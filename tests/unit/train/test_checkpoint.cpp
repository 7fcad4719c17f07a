// test_checkpoint.cpp — safetensors files: round trip, the byte layout, every kind of
// corruption, atomic writes (a crash mid-write leaves the previous file readable), copy_into.
//
// What it is not: a test of resuming training from a checkpoint (test_train.cpp checks
// that resume is bit-identical).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "normlab/core/error.h"
#include "normlab/train/checkpoint.h"

namespace fs = std::filesystem;
using nl::NamedTensor;
using nl::Tensor;

namespace {

// A fresh empty directory per test case, removed at the end.
struct TempDir {
  fs::path dir;
  explicit TempDir(const std::string& tag) {
    dir = fs::temp_directory_path() / ("normlab_test_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() { fs::remove_all(dir); }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}
std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = (char)(n >> (8 * i));
  return s;
}
std::string floats(std::vector<float> v) { return std::string((const char*)v.data(), v.size() * 4); }
// A file built by hand, the way a 20-line Python writer would: no padding.
std::string hand_file(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

// The UserError message a load throws ("" if none).
std::string load_error(const std::string& path) {
  try {
    nl::load_safetensors(path);
  } catch (const nl::UserError& e) {
    return e.what();
  }
  return "";
}

std::vector<NamedTensor> sample() {
  return {{"layers.0.attn.q.weight", Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3})},
          {"layers.0.attn.q.bias", Tensor::from({-0.0f, INFINITY, NAN}, {3})},
          {"optim.step", Tensor::from({7}, {1})},
          {"scalar", Tensor::from({3.5f}, {})},
          {"empty", Tensor::zeros({0, 4})}};
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.numel() * 4) == 0;
}

}  // namespace

TEST_CASE("safetensors round trip keeps names, shapes, bits and metadata", "[checkpoint]") {
  TempDir t("roundtrip");
  std::string path = t.file("ck.safetensors");
  auto ts = sample();
  nl::save_safetensors(path, ts, {{"step", "100"}, {"config", "{\"a\": 1}"}});
  nl::SafetensorsFile f = nl::load_safetensors(path);
  REQUIRE(f.tensors.size() == ts.size());
  for (const auto& nt : ts) {
    INFO(nt.name);
    REQUIRE(f.tensors.count(nt.name));
    CHECK(same_bits(f.tensors.at(nt.name), nt.tensor));  // -0, inf, nan included
  }
  CHECK(f.metadata.at("step") == "100");
  CHECK(f.metadata.at("config") == "{\"a\": 1}");
  CHECK_FALSE(fs::exists(path + ".tmp"));
}

TEST_CASE("safetensors byte layout: LE header length, JSON, 8-byte aligned data", "[checkpoint]") {
  TempDir t("layout");
  std::string path = t.file("ck.safetensors");
  nl::save_safetensors(path, {{"a", Tensor::from({1.5f, -2.0f}, {2})}, {"b", Tensor::from({3.0f}, {1, 1})}},
                       {{"k", "v"}});
  std::string bytes = read_bytes(path);
  REQUIRE(bytes.size() >= 8);
  uint64_t N = 0;
  for (int i = 0; i < 8; ++i) N |= (uint64_t)(unsigned char)bytes[i] << (8 * i);
  CHECK((8 + N) % 8 == 0);                       // data starts 8-byte aligned
  CHECK(bytes.size() == 8 + N + 3 * 4);          // header + exactly the data
  std::string header = bytes.substr(8, N);
  CHECK(header[0] == '{');
  size_t close = header.find_last_of('}');
  CHECK(header.find_first_not_of(' ', close + 1) == std::string::npos);  // padding is spaces
  CHECK(close + 8 > header.size() - 1);                                  // fewer than 8 of them
  auto j = nlohmann::json::parse(header);
  CHECK(j["a"]["dtype"] == "F32");
  CHECK(j["a"]["shape"] == nlohmann::json::array({2}));
  CHECK(j["a"]["data_offsets"] == nlohmann::json::array({0, 8}));
  CHECK(j["b"]["shape"] == nlohmann::json::array({1, 1}));
  CHECK(j["b"]["data_offsets"] == nlohmann::json::array({8, 12}));
  CHECK(j["__metadata__"]["k"] == "v");
  CHECK(bytes.substr(8 + N) == floats({1.5f, -2.0f, 3.0f}));  // raw little-endian floats
}

TEST_CASE("a file written by another tool (no padding, any order) reads", "[checkpoint]") {
  TempDir t("foreign");
  std::string path = t.file("x.safetensors");
  // "b" stored first in the data although "a" comes first in the header.
  write_bytes(path, hand_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},)"
                              R"("b":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})",
                              floats({9.0f, 1.0f, 2.0f})));
  nl::SafetensorsFile f = nl::load_safetensors(path);
  CHECK(f.tensors.at("a").to_vector() == std::vector<float>{1.0f, 2.0f});
  CHECK(f.tensors.at("b").to_vector() == std::vector<float>{9.0f});
  CHECK(f.tensors.at("b").shape().empty());
  CHECK(f.metadata.empty());
}

TEST_CASE("every corrupt safetensors file is a one-line error naming the file", "[checkpoint]") {
  TempDir t("corrupt");
  const std::string ok_header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string ok_data = floats({1, 2});
  struct Case { const char* name; std::string bytes; const char* expect; };
  std::string good = hand_file(ok_header, ok_data);
  std::vector<Case> cases = {
      {"empty", "", "truncated: 0 bytes"},
      {"short", "abc", "truncated: 3 bytes"},
      {"header_past_end", le64(1000) + ok_header, "header length 1000 runs past the end of the file"},
      {"huge_header_length", le64(~0ull) + ok_header, "runs past the end of the file"},
      {"truncated_data", good.substr(0, good.size() - 3), "run past the data (5 bytes): truncated file?"},
      {"not_json", hand_file(R"({"a": nope})", ok_data), "header: malformed JSON: parse error at line 1"},
      {"deep_shape", hand_file(R"({"a":{"dtype":"F32","shape":)" + std::string(100000, '[') + std::string(100000, ']') +
                                   R"(,"data_offsets":[0,8]}})", ok_data),
       "header: a.shape[0][0][0]"},
      {"deep_offsets", hand_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":)" + std::string(100000, '[') +
                                     std::string(100000, ']') + "}}", ok_data),
       "header: a.data_offsets[0][0][0]"},
      {"nested_shape", hand_file(R"({"a":{"dtype":"F32","shape":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[2]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],)"
                                 R"("data_offsets":[0,8]}})", ok_data),
       "tensor 'a': shape [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[2]]]]]]... has an invalid dimension"},
      {"duplicate_name", hand_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                   R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", ok_data),
       "header: a: duplicate key"},
      {"control_chars_in_name", hand_file("{\"a\\n\\u0001\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", ok_data),
       "tensor 'a\\n\\x01': dtype F16 is not supported"},
      {"number_overflow", hand_file(R"({"a":{"dtype":"F32","shape":[1e999],"data_offsets":[0,8]}})", ok_data),
       "header: a.shape[0]: number out of range: 1e999"},
      {"not_brace", hand_file(R"(["a"])", ""), "header does not start with '{'"},
      {"wrong_dtype", hand_file(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", floats({1})),
       "tensor 'a': dtype F16 is not supported"},
      {"size_mismatch", hand_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", ok_data),
       "hold 8 bytes but shape [3] of F32 needs 12"},
      {"offsets_reversed", hand_file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", ok_data),
       "end before they begin"},
      {"offsets_not_ints", hand_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,"8"]}})", ok_data),
       "data_offsets must be [begin, end]"},
      {"overlap", hand_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", ok_data),
       "overlaps tensor"},
      {"hole", hand_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", ok_data),
       "4 unused bytes before tensor 'a'"},
      {"trailing", hand_file(ok_header, ok_data + floats({3})), "4 bytes after the last tensor"},
      {"negative_dim", hand_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", ok_data),
       "has an invalid dimension"},
      {"bad_metadata", hand_file(R"({"__metadata__":{"step":5},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", ok_data),
       "__metadata__.step is not a string"},
      {"unknown_field", hand_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", ok_data),
       "unknown field 'x'"},
      {"missing_shape", hand_file(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", ok_data),
       "shape missing"},
  };
  CHECK(load_error(t.file("good")) != "");  // not yet written: cannot open
  write_bytes(t.file("good"), good);
  CHECK(load_error(t.file("good")) == "");  // the base file is valid, so each case isolates one fault
  for (const Case& c : cases) {
    std::string path = t.file(c.name);
    write_bytes(path, c.bytes);
    std::string err = load_error(path);
    INFO(c.name << ": " << err);
    CHECK(err.rfind("checkpoint " + path + ": ", 0) == 0);
    CHECK(err.find(c.expect) != std::string::npos);
    CHECK(err.find('\n') == std::string::npos);
  }
  CHECK(load_error(t.file("missing")).find("cannot open") != std::string::npos);
}

TEST_CASE("a crash mid-write leaves the previous checkpoint readable", "[checkpoint]") {
  TempDir t("atomic");
  std::string path = t.file("checkpoint.safetensors");
  nl::save_safetensors(path, {{"w", Tensor::from({1, 2, 3}, {3})}}, {{"step", "100"}});

  // The process dies halfway through writing step 200: the temporary file holds half of it.
  TempDir scratch("atomic_scratch");
  nl::save_safetensors(scratch.file("next"), {{"w", Tensor::from({4, 5, 6}, {3})}}, {{"step", "200"}});
  std::string next = read_bytes(scratch.file("next"));
  write_bytes(path + ".tmp", next.substr(0, next.size() / 2));

  nl::SafetensorsFile f = nl::load_safetensors(path);  // still the old, whole file
  CHECK(f.metadata.at("step") == "100");
  CHECK(f.tensors.at("w").to_vector() == std::vector<float>{1, 2, 3});
  CHECK(load_error(path + ".tmp") != "");  // the half-written file itself is rejected

  // The next save replaces the stale temporary file and the checkpoint.
  nl::save_safetensors(path, {{"w", Tensor::from({7, 8, 9}, {3})}}, {{"step", "300"}});
  CHECK(nl::load_safetensors(path).metadata.at("step") == "300");
  CHECK_FALSE(fs::exists(path + ".tmp"));

  // A write that cannot happen throws and leaves nothing behind.
  std::string nowhere = t.file("no/such/dir/ck.safetensors");
  CHECK_THROWS_AS(nl::save_safetensors(nowhere, {{"w", Tensor::from({1}, {1})}}, {}), nl::UserError);
  CHECK_FALSE(fs::exists(nowhere));
}

TEST_CASE("copy_into copies by name and rejects other shapes or missing names", "[checkpoint]") {
  TempDir t("copy");
  std::string path = t.file("ck.safetensors");
  nl::save_safetensors(path,
                       {{"layers.0.norm1.weight", Tensor::from({1, 2}, {2})},
                        {"extra", Tensor::from({5}, {1})}},
                       {});
  nl::SafetensorsFile f = nl::load_safetensors(path);

  Tensor w = Tensor::zeros({2});
  nl::copy_into(f, {{"layers.0.norm1.weight", w}}, path);  // extra names in the file are fine
  CHECK(w.to_vector() == std::vector<float>{1, 2});

  Tensor big = Tensor::zeros({4}), other = Tensor::zeros({1});
  try {
    nl::copy_into(f, {{"extra", other}, {"layers.0.norm1.weight", big}}, path);
    FAIL("expected a shape error");
  } catch (const nl::UserError& e) {
    CHECK(std::string(e.what()) == "checkpoint " + path + ": layers.0.norm1.weight is [2] in the file but [4] in the model");
  }
  CHECK(other.to_vector() == std::vector<float>{0});  // nothing copied on error

  try {
    nl::copy_into(f, {{"layers.1.norm1.weight", big}}, path);
    FAIL("expected a missing-name error");
  } catch (const nl::UserError& e) {
    CHECK(std::string(e.what()).find("layers.1.norm1.weight is missing from the file") != std::string::npos);
  }
}

TEST_CASE("save_safetensors rejects duplicate and reserved names", "[checkpoint]") {
  TempDir t("names");
  CHECK_THROWS_AS(nl::save_safetensors(t.file("a"), {{"w", Tensor::zeros({1})}, {"w", Tensor::zeros({1})}}, {}),
                  std::invalid_argument);
  CHECK_THROWS_AS(nl::save_safetensors(t.file("b"), {{"__metadata__", Tensor::zeros({1})}}, {}),
                  std::invalid_argument);
}

TEST_CASE("a flipped byte in the tensor data is caught by the CRC32", "[checkpoint]") {
  TempDir t("crc");
  std::string path = t.file("ck.safetensors");
  nl::save_safetensors(path, sample(), {{"step", "100"}});
  const std::string good = read_bytes(path);
  uint64_t N = 0;
  for (int i = 0; i < 8; ++i) N |= (uint64_t)(unsigned char)good[i] << (8 * i);
  const auto meta = nlohmann::json::parse(good.substr(8, N))["__metadata__"];
  REQUIRE(meta.contains(nl::kDataCrc32Key));
  CHECK(meta[nl::kDataCrc32Key].get<std::string>().size() == 8);
  CHECK(load_error(path) == "");

  // Every byte of the data section, one bit at a time in turn: each flip is caught.
  const size_t data_begin = 8 + N;
  int caught = 0;
  for (size_t at = data_begin; at < good.size(); ++at) {
    std::string bad = good;
    bad[at] = (char)(bad[at] ^ (1 << (at % 8)));
    write_bytes(path, bad);
    const std::string err = load_error(path);
    INFO("byte " << at << ": " << err);
    CHECK(err.rfind("checkpoint " + path + ": tensor data is corrupt: CRC32 ", 0) == 0);
    CHECK(err.find('\n') == std::string::npos);
    caught += !err.empty();
  }
  CHECK(caught == (int)(good.size() - data_begin));
  CHECK(caught > 40);

  // A wrong data checksum in the header is a changed header (header_crc32 covers it).
  std::string header = good.substr(8, N);
  const size_t at = header.find(meta[nl::kDataCrc32Key].get<std::string>());
  header.replace(at, 8, "00000000");
  write_bytes(path, good.substr(0, 8) + header + good.substr(data_begin));
  CHECK(load_error(path).find("header is corrupt") != std::string::npos);
}

TEST_CASE("a flipped byte anywhere in the header is caught by header_crc32", "[checkpoint]") {
  TempDir t("header_crc");
  std::string path = t.file("ck.safetensors");
  // What predict reads from the header alone: the classes and the vocabulary.
  nl::save_safetensors(path, sample(), {{"step", "100"}, {"classes", R"(["fr","en"])"}, {"vocab", R"(["<pad>","f"])"}});
  const std::string good = read_bytes(path);
  uint64_t N = 0;
  for (int i = 0; i < 8; ++i) N |= (uint64_t)(unsigned char)good[i] << (8 * i);
  const auto meta = nlohmann::json::parse(good.substr(8, N))["__metadata__"];
  REQUIRE(meta.contains(nl::kHeaderCrc32Key));
  CHECK(load_error(path) == "");

  // Every byte of the length and the header, one bit at a time in turn: none loads. (Before,
  // "fr" -> "br" and "f" -> "&" loaded and predict printed the changed labels.)
  int loaded = 0, crc = 0;
  for (size_t at = 0; at < 8 + N; ++at) {
    std::string bad = good;
    bad[at] = (char)(bad[at] ^ (1 << (at % 8)));
    write_bytes(path, bad);
    const std::string err = load_error(path);
    INFO("byte " << at << ": " << err);
    CHECK(err.rfind("checkpoint " + path + ": ", 0) == 0);
    CHECK(err.find('\n') == std::string::npos);
    loaded += err.empty();
    crc += err.find("header is corrupt") != std::string::npos;
  }
  CHECK(loaded == 0);
  CHECK(crc > (int)N / 3);  // many flips keep the JSON valid: the checksum is what catches them

  // The classes' "fr" turned into "br", as the issue found it: one line naming the header.
  std::string bad = good;
  const size_t fr = bad.find("fr");
  bad[fr] = 'b';
  write_bytes(path, bad);
  CHECK(load_error(path).rfind("checkpoint " + path + ": header is corrupt (config, vocabulary, classes or tensor "
                               "entries): CRC32 ", 0) == 0);
}

TEST_CASE("a checkpoint without a CRC32 (older normlab) still loads", "[checkpoint]") {
  // (Its note, "has no data_crc32 or header_crc32", is checked in test_resume.cpp.)
  TempDir t("nocrc");
  std::string path = t.file("old.safetensors");
  write_bytes(path, hand_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"step":"3"}})",
                              floats({1.0f, 2.0f})));
  nl::SafetensorsFile f = nl::load_safetensors(path);  // prints a one-line note on stderr
  CHECK(f.tensors.at("w").to_vector() == std::vector<float>{1.0f, 2.0f});
  CHECK(f.metadata.at("step") == "3");
}
