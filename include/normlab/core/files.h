// files.h — reading an input file whole, safely: regular files only, with a size cap.
//
// What it is: the one way normlab reads a file a user names (a config, task.path,
// task.eval_path, --data, --checkpoint, a compare config). The file is opened with
// O_NONBLOCK and checked with fstat before a byte is read, so a FIFO, a device
// (/dev/zero), a directory or a socket is one UserError line naming the file, never a
// hang or a read that runs until memory is gone; a file larger than the cap is refused
// with the cap in the message. A UTF-8 byte-order mark can be stripped for text files, and
// text checked as UTF-8 (an error naming file, line and byte offset) and cut into lines.
// What it is not: a parser (json_io.h parses JSON), nor a writer (checkpoint.cpp and the
// trainer write their files atomically).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nl {

// Caps for files read whole. A config or compare config is a few KB; text data sets are
// read whole and cut into characters (tens of bytes per character in memory).
constexpr uint64_t kMaxConfigBytes = 16ull << 20;        // 16 MiB
constexpr uint64_t kMaxDataFileBytes = 256ull << 20;     // 256 MiB
constexpr uint64_t kMaxCheckpointBytes = 64ull << 30;    // 64 GiB (memory is checked too)

// The whole of `path`. `label` starts every error message ("configs/x.json",
// "task.path: 'a.tsv'"), `kind` names the file in it ("config", "data file"), `code` is the
// UserError code. Errors: cannot open (with strerror), not a regular file (what it is
// instead), larger than max_bytes (both sizes), a read error.
std::string read_regular_file(const std::string& path, const std::string& label, const std::string& kind,
                              uint64_t max_bytes, int code);

// The same checks without reading: the file's size, or a UserError as above.
uint64_t regular_file_size(const std::string& path, const std::string& label, const std::string& kind,
                           uint64_t max_bytes, int code);

// "a directory", "a FIFO (named pipe)", "a character device", ... for a stat mode.
std::string file_type_name(unsigned mode);

// "1.5 GiB", "300 MiB", "12 KiB", "17 bytes".
std::string bytes_str(double bytes);

// Drops a leading UTF-8 byte-order mark (EF BB BF), as editors on Windows write it.
void strip_utf8_bom(std::string& text);

// The same as read_regular_file, or with path "-" standard input (a pipe or a terminal:
// read to its end, within the cap). For inputs that may come from a pipe (predict --input).
std::string read_input_file(const std::string& path, const std::string& label, const std::string& kind,
                            uint64_t max_bytes, int code);

// UserError(code) unless `text` is valid UTF-8 (json_io.h's is_valid_utf8), naming the
// file, the line and the byte offset of the first bad byte:
//   "data/x.tsv:3: invalid UTF-8: byte 0x82 at offset 57 (save the file as UTF-8)"
// `name` is the file as the message names it ("data/x.tsv", "stdin").
void require_utf8_text(std::string_view text, const std::string& name, int code);

// One line of a text file: its number (from 1) and its text without the '\n' (nor a '\r'
// before it).
struct TextLine {
  int number;
  std::string text;
};
// `text` cut into lines, after require_utf8_text. A last line without '\n' counts; an empty
// file has no lines.
std::vector<TextLine> text_lines(std::string_view text, const std::string& name, int code);

// A file that ships with normlab (scripts/plot_compare.py, data/wordlang/train.tsv), by its
// path in the source tree: first in the installed share folder beside the binary
// (<prefix>/share/normlab/REL for <prefix>/bin/normlab, `cmake --install`), then in the
// source tree the binary was built from. "" when neither has it.
std::string shipped_file(const std::string& rel);

}  // namespace nl
