// Batched generation with continuous batching: requests join the batch between decode
// steps (when a cache slot is free) and leave it as soon as they finish, so a long
// request never holds the others back and a new one never waits for a whole batch.
//
// Each step, every active sequence feeds the decoder (infer/decoder.h):
//   joined this step        its window (the last min(len, ctx) tokens) at position 0
//                           ("prefill": the whole prompt in one pass);
//   window not full         its newest token at position `cached` (one row);
//   window full (len > ctx) the window SLIDES: position embeddings are absolute, so
//                           every cached key/value would change; the last ctx tokens
//                           are recomputed at positions 0..ctx-1 (a prefill of ctx
//                           rows). That is exactly what full recomputation sees, so
//                           the output stays identical to it token for token; the price
//                           is that past ctx each token costs a window's forward again.
// The whole batch is ONE decoder step; then each sequence picks its token with its own
// generator (infer/sampling.h), so its output does not depend on the batch.
//
// Pipelines: a model with G groups (infer/step_model.h: a pipeline of stages) splits
// the slots into G micro-batches (slot s in group s % G). A step submits every idle
// group's pass, then collects the oldest one and samples its tokens, so while the
// engine samples one group the stages compute the others. A sequence's tokens do not
// depend on its group or on the other groups.
//
// Stopping, per sequence: max_tokens generated ("length"); a stop string in the text
// ("stop": the text ends before it); the tokenizer's end-of-text id ("stop": GPT-2's
// <|endoftext|>, not part of the output); cancel() ("cancelled").
//
// Threads: submit() and cancel() may be called from any thread; step() from one
// thread at a time; the callbacks run on the thread calling step().
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "data/tokenizer.h"
#include "infer/decoder.h"
#include "infer/sampling.h"

namespace plait::infer {

enum class FinishReason { length, stop, end_of_text, cancelled };
// OpenAI's names: "length", "stop" (stop string or end of text), "cancelled".
const char* finish_reason_name(FinishReason r);

struct Request {
  std::vector<int32_t> prompt;     // ids; empty: the tokenizer's "\n" (bytes: 10)
  SamplingParams sampling;
  int max_tokens = 16;             // >= 0
  std::vector<std::string> stop;   // stop strings (need a tokenizer)
  bool stop_at_end_of_text = true;
};

struct Result {
  std::vector<int32_t> tokens;  // generated ids (not the prompt, not end of text)
  std::string text;             // their text, cut before a stop string
  FinishReason reason = FinishReason::length;
};

struct Callbacks {
  // A generated token and the text that became final with it (possibly empty: text
  // is held back while it may be the start of a stop string or of a UTF-8 character).
  // token -1: the held-back rest of the text, once, just before on_done.
  std::function<void(int32_t token, std::string_view text)> on_token;
  std::function<void(const Result&)> on_done;  // exactly once per request
};

// GPT-2's <|endoftext|> when `tok` has it (its id is the one whose text it is).
std::optional<int32_t> end_of_text_id(const data::Tokenizer& tok);

class Engine {
 public:
  // `tok` may be nullptr (ids only: no stop strings, no text, no end of text).
  // recompute = true: no cache reuse; every step feeds each sequence's whole window
  // (the reference that the cache must match, and the yardstick of `bench sample`).
  Engine(StepModel& model, const data::Tokenizer* tok, bool recompute = false);
  ~Engine();

  // Queues a request; UsageError when it is invalid (the message names the field).
  uint64_t submit(Request r, Callbacks cb);
  void cancel(uint64_t id);
  // One decode step: admits waiting requests into idle groups and submits their
  // passes, then completes the oldest pass in flight (with one group: one step over
  // all active sequences). Returns false when there was nothing to do.
  bool step();
  void run_until_idle() { while (step()) {} }

  size_t pending() const;  // waiting + active requests

 private:
  struct Sequence;
  void admit(int group);
  std::vector<Feed> feeds(int group);
  void advance(Sequence& s, const float* logits);
  void update_text(Sequence& s);
  void finish(Sequence& s, FinishReason r);

  StepModel& dec_;
  const data::Tokenizer* tok_;
  bool recompute_;
  std::optional<int32_t> eot_;
  std::vector<int32_t> newline_;
  std::vector<std::unique_ptr<Sequence>> active_;
  std::vector<std::vector<int>> free_slots_;  // per group
  std::vector<char> in_flight_;               // per group
  std::vector<float> scratch_;
  mutable std::mutex mu_;  // guards waiting_, cancelled_, next_id_, counts
  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::unordered_set<uint64_t> cancelled_;
  uint64_t next_id_ = 1;
  size_t active_count_ = 0;
};

}  // namespace plait::infer
