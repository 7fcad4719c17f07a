// checkpoint.cpp — safetensors files: an atomic writer and a strict reader.
//
// What it is: the file format of https://github.com/huggingface/safetensors, F32 only,
// written atomically and read strictly (both described below).
// What it is not: a general safetensors library (F32 only; other dtypes are an error),
// nor the checkpoint layout (which tensors a run saves lives in the trainer).
//
// The format:
//   bytes [0, 8)        N, the header length, unsigned 64-bit little-endian
//   bytes [8, 8+N)      JSON: {"<name>": {"dtype": "F32", "shape": [..],
//                                "data_offsets": [begin, end]}, ...,
//                              "__metadata__": {"<key>": "<string>", ...}}
//                       padded with spaces so that 8+N is a multiple of 8 (the format
//                       allows trailing whitespace; it keeps the data 8-byte aligned)
//   bytes [8+N, end)    the data: each tensor's float32 values, little-endian, row-major,
//                       at [begin, end) counted from 8+N; tensors tile it with no gaps
// Writing goes through io.h's AtomicFile ("<path>.tmp", fsync, rename over <path>, fsync
// the directory), so a kill at any moment leaves either the old file or the new one whole.
// Writing adds __metadata__.data_crc32, the CRC32 (zlib) of the whole data section as 8 hex
// digits, and __metadata__.header_crc32, the CRC32 of bytes [0, 8+N) (length, JSON header,
// padding) computed with header_crc32's own 8 digits read as "00000000"; reading recomputes
// both, so a flipped byte in the tensor data or in the header (the config, the vocabulary,
// the classes, a tensor's name or shape) is an error, not a silently different model. A file
// without them (older normlab, other tools) reads with a one-line note on stderr.
// Reading checks everything the Rust reference reader checks (header inside the file,
// valid JSON, dtype, offsets inside the data, consistent with the shape, no overlap, no
// holes, no trailing bytes), and each failure is one line naming the file.
#include "normlab/train/checkpoint.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string_view>

#include <nlohmann/json.hpp>
#include <zlib.h>

#include "normlab/core/error.h"
#include "normlab/core/io.h"
#include "normlab/core/files.h"
#include "normlab/core/json_io.h"

namespace nl {

using nlohmann::json;

namespace {

static_assert(sizeof(float) == 4, "safetensors F32 is 4 bytes");

bool little_endian_host() {
  const uint32_t one = 1;
  unsigned char b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

// A CRC32 as 8 lowercase hex digits.
std::string crc_hex(uLong crc) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08lx", (unsigned long)(crc & 0xffffffffUL));
  return buf;
}

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw UserError("checkpoint " + path + ": " + what);
}

// Where the 8 hex digits of header_crc32 start in the header text: right after the one
// `"header_crc32":"` in it (a key; inside a JSON string every '"' is escaped, so no string
// value can hold this pattern), or npos when it is not there exactly once.
size_t header_crc_digits(std::string_view header) {
  const std::string pattern = std::string("\"") + kHeaderCrc32Key + "\":\"";
  const size_t at = header.find(pattern);
  if (at == std::string_view::npos || header.find(pattern, at + 1) != std::string_view::npos) return std::string_view::npos;
  return at + pattern.size();
}

// A key one byte away from `key` (a flipped bit in its name would otherwise read as "no
// checksum, an older file").
bool one_byte_from(const std::string& a, const std::string& key) {
  if (a.size() != key.size()) return false;
  int differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += a[i] != key[i];
  return differ == 1;
}

// The header's CRC32 (see save_safetensors) against __metadata__.header_crc32. Before any
// tensor entry is read, so a flipped byte in the config, vocabulary, classes, a name, a
// shape or an offset is this one line, not a changed model.
void check_header_crc(std::string_view bytes, uint64_t N, const nlohmann::json& header, const std::string& path) {
  const auto meta = header.find("__metadata__");
  if (meta == header.end() || !meta->is_object()) return;  // reported below
  const auto stored = meta->find(kHeaderCrc32Key);
  if (stored == meta->end()) {
    for (auto k = meta->begin(); k != meta->end(); ++k)
      if (one_byte_from(k.key(), kHeaderCrc32Key))
        bad(path, "header is corrupt: __metadata__ has '" + printable(k.key(), 20) + "' where " + kHeaderCrc32Key +
                      " belongs");
    const bool data_crc = meta->contains(kDataCrc32Key);
    std::fprintf(stderr, "normlab: note: checkpoint %s has no %s%s (written before checksums or by another tool); "
                 "%s\n", path.c_str(), data_crc ? "" : "data_crc32 or ", kHeaderCrc32Key,
                 data_crc ? "its header (config, vocabulary, classes) is not verified"
                          : "its tensor data and its header are not verified");
    return;
  }
  const std::string_view text = bytes.substr(8, N);
  const size_t at = header_crc_digits(text);
  if (!stored->is_string() || at == std::string_view::npos || at + 9 > text.size() || text[at + 8] != '"' ||
      stored->get_ref<const std::string&>() != text.substr(at, 8))
    bad(path, "header is corrupt: __metadata__." + std::string(kHeaderCrc32Key) + " is " + json_describe(*stored) +
                  ", not 8 hex digits written once");
  std::string copy(bytes.substr(0, 8 + N));
  copy.replace(8 + at, 8, "00000000");
  const std::string actual = crc_hex(crc32_z(crc32_z(0L, Z_NULL, 0), (const Bytef*)copy.data(), copy.size()));
  if (actual != text.substr(at, 8))
    bad(path, "header is corrupt (config, vocabulary, classes or tensor entries): CRC32 " + actual +
                  " but __metadata__." + kHeaderCrc32Key + " says " + std::string(text.substr(at, 8)));
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Writing

void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  if (!little_endian_host()) throw std::runtime_error("save_safetensors: big-endian hosts are not supported");

  // Header: tensors in the order given, each right after the previous one.
  json header = json::object();
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__")
      throw std::invalid_argument("save_safetensors: invalid tensor name '" + t.name + "'");
    if (!names.insert(t.name).second)
      throw std::invalid_argument("save_safetensors: tensor name '" + t.name + "' appears twice");
    uint64_t bytes = (uint64_t)t.tensor.numel() * sizeof(float);
    header[t.name] = {{"dtype", "F32"}, {"shape", t.tensor.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  // The checksum of the data section, so that a flipped byte is caught on load.
  std::map<std::string, std::string> meta = metadata;
  uLong crc = crc32_z(0L, Z_NULL, 0);
  for (const auto& t : tensors)
    crc = crc32_z(crc, (const Bytef*)t.tensor.data(), (size_t)t.tensor.numel() * sizeof(float));
  meta[kDataCrc32Key] = crc_hex(crc);
  meta[kHeaderCrc32Key] = "00000000";  // a placeholder while the header's own CRC is computed
  header["__metadata__"] = meta;

  std::string text = header.dump();
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');  // 8 + N is a multiple of 8
  const uint64_t N = text.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = (unsigned char)(N >> (8 * i));  // little-endian
  // The checksum of everything before the data (length, JSON, padding), with the value of
  // header_crc32 read as "00000000", written into that placeholder.
  const size_t at = header_crc_digits(text);
  uLong hcrc = crc32_z(crc32_z(0L, Z_NULL, 0), len, 8);
  hcrc = crc32_z(hcrc, (const Bytef*)text.data(), text.size());
  text.replace(at, 8, crc_hex(hcrc));

  // Temporary file, fsync, rename, fsync the directory (io.h); any failure throws and
  // leaves the previous checkpoint as it was.
  AtomicFile f(path);
  f.write(len, 8);
  f.write(text);
  for (const auto& t : tensors) f.write(t.tensor.data(), (size_t)t.tensor.numel() * sizeof(float));
  f.commit();
}

// ---------------------------------------------------------------------------------------
// Reading

SafetensorsFile load_safetensors(const std::string& path) {
  return parse_safetensors(read_regular_file(path, "checkpoint " + path, "checkpoint", kMaxCheckpointBytes, 1), path);
}

namespace {

// Where one tensor's bytes lie in the data section.
struct Span {
  uint64_t begin, end;
  std::string name;
};

// The tensors must tile the data section exactly: no overlap, no hole, nothing after.
void check_tiling(std::vector<Span> spans, uint64_t data_size, const std::string& path) {
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  std::string prev = "the start of the data";
  for (const Span& s : spans) {
    if (s.begin < at) bad(path, "tensor '" + s.name + "' overlaps " + prev);
    if (s.begin > at)
      bad(path, std::to_string(s.begin - at) + " unused bytes before tensor '" + s.name + "' (a hole in the data)");
    at = s.end;
    prev = "tensor '" + s.name + "'";
  }
  if (at != data_size)
    bad(path, std::to_string(data_size - at) + " bytes after the last tensor (the header does not describe them)");
}

// The header's __metadata__: an object of strings.
void read_metadata(const json& e, std::map<std::string, std::string>& metadata, const std::string& path) {
  if (!e.is_object()) bad(path, "__metadata__ is not an object of strings, got " + json_describe(e));
  for (auto m = e.begin(); m != e.end(); ++m) {
    if (!m.value().is_string())
      bad(path, "__metadata__." + printable(m.key(), 80) + " is not a string, got " + json_describe(m.value()));
    metadata[m.key()] = m.value().get<std::string>();
  }
}

}  // namespace

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& path) {
  if (!little_endian_host()) throw std::runtime_error("load_safetensors: big-endian hosts are not supported");
  const uint64_t size = bytes.size();

  if (size < 8) bad(path, "truncated: " + std::to_string(size) + " bytes, too short for the 8-byte header length");
  uint64_t N = 0;
  for (int i = 0; i < 8; ++i) N |= (uint64_t)(unsigned char)bytes[i] << (8 * i);
  if (N > size - 8)
    bad(path, "header length " + std::to_string(N) + " runs past the end of the file (" +
                  std::to_string(size) + " bytes): truncated or not a safetensors file");
  if (N > kMaxSafetensorsHeader)
    bad(path, "header length " + std::to_string(N) + " is more than the " + std::to_string(kMaxSafetensorsHeader) +
                  "-byte limit of the format");
  if (N < 2 || bytes[8] != '{') bad(path, "header does not start with '{': not a safetensors file");

  // Depth-checked before parsing, every parser error one line (json_io.h); a duplicate
  // tensor name would silently lose one of the two, so it is an error too.
  JsonReadOptions jopt;
  jopt.code = 1;
  jopt.reject_duplicate_keys = true;
  const json header = parse_json(std::string_view(bytes).substr(8, N), "checkpoint " + path + ": header", jopt);
  if (!header.is_object()) bad(path, "header is not a JSON object");
  check_header_crc(bytes, N, header, path);

  const uint64_t data_begin = 8 + N, data_size = size - data_begin;
  SafetensorsFile out;
  std::vector<Span> spans;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& e = it.value();
    if (name == "__metadata__") {
      read_metadata(e, out.metadata, path);
      continue;
    }
    // Names and values are shown short and printable: a header may hold any bytes.
    const std::string t = "tensor '" + printable(name, 80) + "': ";
    if (!e.is_object()) bad(path, t + "entry is not an object, got " + json_describe(e));
    for (auto f = e.begin(); f != e.end(); ++f)
      if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets")
        bad(path, t + "unknown field '" + printable(f.key(), 40) + "'");
    // Pointers into the header, never copies: a copy of a JSON value recurses through it.
    auto field = [&](const char* k) -> const json* {
      auto f = e.find(k);
      return f == e.end() ? nullptr : &*f;
    };
    const json* dtype = field("dtype");
    if (!dtype || !dtype->is_string()) bad(path, t + "dtype missing or not a string");
    if (*dtype != "F32")
      bad(path, t + "dtype " + printable(dtype->get_ref<const std::string&>()) +
                    " is not supported (normlab reads F32 only)");
    const json* shape_j = field("shape");
    if (!shape_j || !shape_j->is_array()) bad(path, t + "shape missing or not an array");
    Shape shape;
    uint64_t numel = 1;
    for (const json& d : *shape_j) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t)INT32_MAX)
        bad(path, t + "shape " + json_brief(*shape_j) + " has an invalid dimension");
      const uint64_t n = d.get<uint64_t>();
      shape.push_back((int)n);
      if (n != 0 && numel > data_size / n) bad(path, t + "shape " + json_brief(*shape_j) + " is larger than the data section");
      numel *= n;
    }
    const json* offp = field("data_offsets");
    if (!offp || !offp->is_array() || offp->size() != 2 || !(*offp)[0].is_number_unsigned() ||
        !(*offp)[1].is_number_unsigned())
      bad(path, t + "data_offsets must be [begin, end], non-negative integers");
    const json& off = *offp;
    const uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (b > en) bad(path, t + "data_offsets [" + std::to_string(b) + ", " + std::to_string(en) + "] end before they begin");
    if (en > data_size)
      bad(path, t + "data_offsets [" + std::to_string(b) + ", " + std::to_string(en) + "] run past the data (" +
                    std::to_string(data_size) + " bytes): truncated file?");
    if (en - b != numel * sizeof(float))
      bad(path, t + "data_offsets [" + std::to_string(b) + ", " + std::to_string(en) + "] hold " +
                    std::to_string(en - b) + " bytes but shape " + shape_str(shape) + " of F32 needs " +
                    std::to_string(numel * sizeof(float)));
    spans.push_back({b, en, printable(name, 80)});
    Tensor x = Tensor::empty(shape);
    if (numel > 0) std::memcpy(x.data(), bytes.data() + data_begin + b, numel * sizeof(float));
    x.set_name(name);
    out.tensors[name] = x;
  }

  check_tiling(spans, data_size, path);
  // The data must be what was written: CRC32 of the whole data section.
  // (Without it, check_header_crc has said so in its note.)
  auto stored = out.metadata.find(kDataCrc32Key);
  if (stored != out.metadata.end()) {
    const std::string actual =
        crc_hex(crc32_z(crc32_z(0L, Z_NULL, 0), (const Bytef*)bytes.data() + data_begin, (size_t)data_size));
    if (stored->second != actual)
      bad(path, "tensor data is corrupt: CRC32 " + actual + " but the header says " +
                    (stored->second.size() > 16 ? stored->second.substr(0, 16) + "..." : stored->second));
  }
  return out;
}

void copy_into(const SafetensorsFile& file, const std::vector<NamedTensor>& dst,
               const std::string& path_for_errors) {
  // Check everything first, so a mismatch leaves dst untouched.
  for (const auto& d : dst) {
    auto it = file.tensors.find(d.name);
    if (it == file.tensors.end())
      bad(path_for_errors, d.name + " is missing from the file (saved from a different model or optimizer?)");
    if (it->second.shape() != d.tensor.shape())
      bad(path_for_errors, d.name + " is " + it->second.shape_str() + " in the file but " +
                               d.tensor.shape_str() + " in the model");
  }
  for (const auto& d : dst) {
    const Tensor& src = file.tensors.at(d.name);
    if (src.numel() > 0) std::memcpy(d.tensor.data(), src.data(), (size_t)src.numel() * sizeof(float));
  }
}

}  // namespace nl
