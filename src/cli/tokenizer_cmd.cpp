// plait tokenizer train|encode|decode: SentencePiece training on the user's corpus,
// and ids of a text (one JSON array) for checking against other implementations.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/registry.h"
#include "data/spm_tokenizer.h"
#include "data/tokenizer.h"
#include "util/error.h"

namespace plait::cli {
namespace {

struct TokArgs {
  data::SpmTrainOptions train;
  std::string spec = "bytes";
  std::string file;
};

void encode_file(const TokArgs& a) {
  const auto tok = data::load_tokenizer(a.spec);
  const std::string text = data::read_text_file(a.file, "text file");
  std::printf("%s\n", nlohmann::json(tok->encode(text)).dump().c_str());
}

void decode_file(const TokArgs& a) {
  const auto tok = data::load_tokenizer(a.spec);
  const std::string text = data::read_text_file(a.file, "ids file");
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array())
    throw UsageError("ids file '" + a.file + "' is not a JSON array of token ids");
  std::vector<int32_t> ids;
  for (const auto& v : j) {
    if (!v.is_number_integer())
      throw UsageError("ids file '" + a.file + "': " + v.dump() + " is not an integer id");
    ids.push_back(v.get<int32_t>());
  }
  const std::string out = tok->decode(ids);
  std::fwrite(out.data(), 1, out.size(), stdout);
}

void add_tokenizer(Context& ctx) {
  auto a = std::make_shared<TokArgs>();
  auto* cmd = ctx.root.add_subcommand("tokenizer", "train, or run, a tokenizer");
  cmd->require_subcommand(1);
  auto* train = cmd->add_subcommand("train", "train a SentencePiece model on text files");
  train->add_option("--data", a->train.files, "text files")->required()->check(CLI::ExistingPath);
  train->add_option("--vocab", a->train.vocab, "vocabulary size")->capture_default_str();
  train->add_option("--type", a->train.type, "bpe or unigram")->capture_default_str();
  train->add_option("--out", a->train.out, "the .model file to write")->required();
  train->add_option("--max-sentences", a->train.max_sentences,
                    "lines sampled for training (0: all)")
      ->capture_default_str();
  train->add_option("--train-threads", a->train.threads, "training threads (0: one per core)");
  train->callback([&ctx, a] {
    data::train_spm(a->train);
    const auto tok = data::load_spm(a->train.out);
    std::printf("wrote %s: SentencePiece %s, %d pieces\n", a->train.out.c_str(),
                a->train.type.c_str(), tok->vocab_size());
    ctx.rc = 0;
  });
  for (const char* name : {"encode", "decode"}) {
    const bool enc = name[0] == 'e';
    auto* sub = cmd->add_subcommand(
        name, enc ? "print the ids of FILE's text as one JSON array"
                  : "print the text of FILE's JSON array of ids");
    sub->add_option("--tokenizer", a->spec, "bytes, gpt2:DIR or spm:FILE")->capture_default_str();
    sub->add_option("file", a->file, enc ? "text file" : "JSON array of ids")->required();
    sub->callback([&ctx, a, enc] {
      enc ? encode_file(*a) : decode_file(*a);
      ctx.rc = 0;
    });
  }
}

Registrar reg("tokenizer", add_tokenizer);

}  // namespace
}  // namespace plait::cli
