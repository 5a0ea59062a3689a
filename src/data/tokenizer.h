// Tokenizers: text <-> token ids. A run chooses one (docs/DATA.md) and names it on the
// command line with a spec:
//   bytes       every byte is one token, 0..255 (the default; no files)
//   gpt2:DIR    GPT-2 byte-level BPE from DIR/encoder.json + DIR/vocab.bpe (gpt2_bpe.h)
//   spm:FILE    a SentencePiece model (spm_tokenizer.h)
// The checkpoint carries the tokenizer (its type and its defining files, copied into
// the checkpoint: parallel/checkpoint_tokenizer.h), so `sample` and `eval` need no flag.
//
// Every problem with a spec or a tokenizer file is a UsageError naming the file.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace plait::data {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // "bytes", "gpt2" or "spm".
  virtual std::string type() const = 0;
  // Ids are in [0, vocab_size()).
  virtual int vocab_size() const = 0;
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  // Throws UsageError naming the position of an id outside [0, vocab_size()).
  virtual std::string decode(std::span<const int32_t> ids) const = 0;
  // The files that define the tokenizer: name -> contents ({} for bytes). Writing
  // them into a directory D and calling load_tokenizer(type() + ":" + D) (gpt2) or
  // (type() + ":" + D + "/" + name) (spm) gives the same tokenizer back.
  virtual std::map<std::string, std::string> files() const = 0;

  // XXH64 of the type and the files, 16 hex digits: equal fingerprints mean the same
  // ids for every text (resume and prepared datasets compare it).
  std::string fingerprint() const;
};

// Parses a spec ("bytes", "gpt2:DIR", "spm:FILE"); "" means bytes.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& spec);

// The tokenizer of `type` whose files() were written into `dir` (a checkpoint's or a
// prepared dataset's copy).
std::unique_ptr<Tokenizer> load_tokenizer_from_dir(const std::string& type,
                                                   const std::string& dir);

// Writes tok.files() into `dir` (created), one file each.
void write_tokenizer_files(const Tokenizer& tok, const std::string& dir);

// The model's rows of the embedding: the vocabulary rounded up to a multiple of 64
// (as nanoGPT's 50304 for GPT-2's 50257); the padding ids never occur.
inline int padded_vocab(int vocab) { return (vocab + 63) / 64 * 64; }

// ---- the byte tokenizer --------------------------------------------------------
// Every byte of the text is one token, 0..255. There is no vocabulary file, no merges
// and no unknown token, so encode/decode round-trip any byte string exactly.
inline constexpr int kVocab = 256;

class ByteTokenizer final : public Tokenizer {
 public:
  std::string type() const override { return "bytes"; }
  int vocab_size() const override { return kVocab; }
  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  std::map<std::string, std::string> files() const override { return {}; }
};

// One token per byte, in order. Result: [text.size()], each in [0, 256).
std::vector<int32_t> encode(std::string_view text);
// The bytes back. Throws UsageError naming the position of a token outside [0, 256).
std::string decode(std::span<const int32_t> tokens);
// One token as its byte (the same range check as decode).
char decode_one(int32_t token);

// Reads a whole (tokenizer) file; UsageError naming it when missing or unreadable.
std::string read_text_file(const std::string& path, const std::string& what);

}  // namespace plait::data
