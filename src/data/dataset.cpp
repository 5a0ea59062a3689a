#include "data/dataset.h"

#include <span>

#include "data/prepared.h"
#include "data/text_chunks.h"
#include "util/error.h"
#include "util/hash.h"

namespace plait::data {
namespace {

std::string describe(const std::vector<std::string>& files) {
  if (files.size() == 1) return "'" + files[0] + "'";
  return std::to_string(files.size()) + " files ('" + files.front() + "' ... '" + files.back() +
         "')";
}

// Text files through a tokenizer, chunk by chunk in parallel, in file order.
Tokens tokenize_files(const std::vector<std::string>& files, const Tokenizer& tok, int threads) {
  ChunkReader reader(files);
  std::vector<TextChunk> chunks;
  for (TextChunk c; reader.next(c);) chunks.push_back(std::move(c));
  const auto ids = encode_chunks(tok, chunks, threads);
  size_t n = 0;
  for (const auto& v : ids) n += v.size();
  if (tok.vocab_size() <= 65536) {
    std::vector<uint16_t> out;
    out.reserve(n);
    for (const auto& v : ids) out.insert(out.end(), v.begin(), v.end());
    return Tokens::from_u16(std::move(out));
  }
  std::vector<uint32_t> out;
  out.reserve(n);
  for (const auto& v : ids) out.insert(out.end(), v.begin(), v.end());
  return Tokens::from_u32(std::move(out));
}

std::string hash_tokens(const Tokens& a, const Tokens& b) {
  Xxh64 h;
  for (const Tokens* t : {&a, &b})
    t->for_each_block([&](const std::byte* p, size_t n) { h.update(p, n); });
  return hex64(h.digest());
}

bool one_dir(const std::vector<std::string>& paths) {
  return paths.size() == 1 && is_token_dir(paths[0]);
}

void check_split(const Tokens& t, int ctx, const std::string& what) {
  if (ctx < 1)
    throw UsageError("context length (ctx) must be at least 1, got " + std::to_string(ctx));
  if (t.size() < int64_t{ctx} + 1)
    throw UsageError(what + " has " + std::to_string(t.size()) + " tokens; ctx " +
                     std::to_string(ctx) + " needs at least ctx+1 = " + std::to_string(ctx + 1));
}

}  // namespace

Dataset dataset_from_corpus(Corpus c) {
  Dataset d;
  d.name = c.name();
  d.val_name = "the validation split (last 10%) of " + c.name();
  const int64_t n_train = c.train_size();
  Tokens all = Tokens::from_bytes(std::move(c).release());
  d.train = all.slice(0, n_train);
  d.val = all.slice(n_train, all.size());
  d.tokenizer = std::make_shared<ByteTokenizer>();
  d.hash = hash_tokens(d.train, d.val);  // = XXH64 of the corpus bytes
  return d;
}

Tokens load_eval_tokens(const std::vector<std::string>& data, const Tokenizer& tok,
                        const std::string& dtype, std::string& name) {
  if (one_dir(data)) {
    auto shared = std::shared_ptr<const Tokenizer>(&tok, [](const Tokenizer*) {});
    TokenDir t = open_token_dir(data[0], shared, dtype);
    name = (t.val.empty() ? "" : "the validation split of ") + t.name;
    return t.val.empty() ? t.train : t.val;
  }
  name = describe(data);
  if (tok.type() == "bytes") {
    std::vector<uint8_t> bytes;
    for (const auto& f : data) {
      auto one = read_file_bytes(f);
      bytes.insert(bytes.end(), one.begin(), one.end());
    }
    return Tokens::from_bytes(std::move(bytes));
  }
  return tokenize_files(data, tok, 0);
}

Dataset load_dataset(const DataOptions& opt) {
  std::shared_ptr<const Tokenizer> asked;
  if (!opt.tokenizer.empty()) asked = load_tokenizer(opt.tokenizer);
  Dataset d;
  if (one_dir(opt.data)) {
    TokenDir t = open_token_dir(opt.data[0], asked, opt.dtype);
    d.train = std::move(t.train);
    d.val = std::move(t.val);
    d.tokenizer = std::move(t.tokenizer);
    d.name = t.name;
    d.val_name = "the validation split of " + t.name;
    d.hash = t.hash;
    if (d.val.empty() && opt.val_data.empty())
      throw UsageError(t.name + " has no validation split (no val.bin): pass --val-data");
  } else if (!asked || asked->type() == "bytes") {
    if (opt.val_data.empty()) {
      Corpus c = Corpus::load(opt.data, opt.ctx);  // its own checks and messages
      return dataset_from_corpus(std::move(c));
    }
    std::vector<std::string> files = opt.data.empty() ? default_corpus_files() : opt.data;
    d.tokenizer = std::make_shared<ByteTokenizer>();
    d.train = load_eval_tokens(files, *d.tokenizer, opt.dtype, d.name);
    d.hash = hash_tokens(d.train, Tokens());
  } else {
    std::vector<std::string> files = opt.data.empty() ? default_corpus_files() : opt.data;
    d.tokenizer = asked;
    d.name = describe(files);
    Tokens all = tokenize_files(files, *asked, opt.threads);
    if (opt.val_data.empty()) {
      const int64_t n_train = train_length(all.size());
      d.train = all.slice(0, n_train);
      d.val = all.slice(n_train, all.size());
      d.val_name = "the validation split (last 10%) of corpus " + d.name;
    } else {
      d.train = std::move(all);
    }
    d.hash = hash_tokens(d.train, d.val);
  }
  if (!opt.val_data.empty()) {  // replaces any split: nothing of it is trained on
    d.val = load_eval_tokens(opt.val_data, *d.tokenizer, opt.dtype, d.val_name);
    d.val_name = "--val-data " + d.val_name;
    // the training tokens' identity (a prepared set's: from its checksums, without
    // reading it again) and the validation tokens'
    const std::string both = d.hash + hash_tokens(Tokens(), d.val);
    d.hash = hex64(xxh64(std::as_bytes(std::span<const char>(both))));
  }
  check_split(d.train, opt.ctx, "the training data " + d.name);
  check_split(d.val, opt.ctx, d.val_name);
  return d;
}

}  // namespace plait::data
