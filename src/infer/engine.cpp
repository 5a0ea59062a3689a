#include "infer/engine.h"

#include <algorithm>

#include "util/error.h"

namespace plait::infer {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::length: return "length";
    case FinishReason::stop: return "stop";
    case FinishReason::end_of_text: return "stop";
    case FinishReason::cancelled: return "cancelled";
  }
  return "?";
}

std::optional<int32_t> end_of_text_id(const data::Tokenizer& tok) {
  if (tok.type() != "gpt2") return std::nullopt;
  const std::string eot = "<|endoftext|>";
  const int V = tok.vocab_size();
  for (int id = V - 1; id >= 0; --id) {  // GPT-2's is the last id: found at once
    const int32_t one[1] = {id};
    if (tok.decode(one) == eot) return id;
  }
  return std::nullopt;
}

struct Engine::Sequence {
  uint64_t id = 0;
  Request req;
  Callbacks cb;
  Rng rng{0};
  std::vector<int32_t> tokens;  // prompt + generated
  size_t prompt_len = 0;
  int slot = -1;
  int group = 0;                // slot % groups
  int cached = 0;               // positions of the window held in the cache
  std::vector<int32_t> feed;    // the tokens fed this step
  Result out;
  std::string text;             // decoded generated tokens (uncut)
  size_t emitted = 0;           // bytes of text passed to on_token
  bool done = false;
};

Engine::Engine(StepModel& decoder, const data::Tokenizer* tok, bool recompute)
    : dec_(decoder), tok_(tok), recompute_(recompute) {
  if (tok_) {
    if (tok_->vocab_size() != dec_.config().vocab)
      throw UsageError("generation: the tokenizer has " + std::to_string(tok_->vocab_size()) +
                       " ids, the model " + std::to_string(dec_.config().vocab));
    eot_ = end_of_text_id(*tok_);
    newline_ = tok_->encode("\n");
  }
  if (newline_.empty()) newline_ = {std::min<int32_t>('\n', dec_.config().vocab - 1)};
  const int G = std::max(1, dec_.groups());
  free_slots_.resize(G);
  in_flight_.assign(G, 0);
  for (int s = dec_.slots() - 1; s >= 0; --s) free_slots_[s % G].push_back(s);
}

Engine::~Engine() = default;

uint64_t Engine::submit(Request r, Callbacks cb) {
  r.sampling.validate("");
  if (r.max_tokens < 0) throw UsageError("max_tokens must not be negative");
  if (!r.stop.empty() && !tok_) throw UsageError("stop strings need a tokenizer");
  for (const auto& s : r.stop)
    if (s.empty()) throw UsageError("a stop string must not be empty");
  if (r.prompt.empty()) r.prompt = newline_;
  for (int32_t t : r.prompt)
    if (t < 0 || t >= dec_.config().vocab)
      throw UsageError("prompt token " + std::to_string(t) + " is outside the vocabulary");
  auto s = std::make_unique<Sequence>();
  s->rng = Rng(r.sampling.seed);
  s->tokens = r.prompt;
  s->prompt_len = r.prompt.size();
  s->req = std::move(r);
  s->cb = std::move(cb);
  std::lock_guard lock(mu_);
  s->id = next_id_++;
  const uint64_t id = s->id;
  waiting_.push_back(std::move(s));
  return id;
}

void Engine::cancel(uint64_t id) {
  std::lock_guard lock(mu_);
  cancelled_.insert(id);
}

size_t Engine::pending() const {
  std::lock_guard lock(mu_);
  return waiting_.size() + active_count_;
}

// Moves waiting requests into free slots of `group` (idle: none of its sequences is
// in flight); finishes cancelled ones (outside the lock).
void Engine::admit(int group) {
  std::vector<std::unique_ptr<Sequence>> gone;
  auto& free = free_slots_[group];
  {
    std::lock_guard lock(mu_);
    for (auto& s : active_)
      if (s->group == group && cancelled_.erase(s->id)) s->done = true;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (cancelled_.erase((*it)->id)) {
        gone.push_back(std::move(*it));
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
    while (!waiting_.empty() && !free.empty()) {
      auto s = std::move(waiting_.front());
      waiting_.pop_front();
      s->slot = free.back();
      s->group = group;
      free.pop_back();
      active_.push_back(std::move(s));
    }
    active_count_ = active_.size();  // so pending() never misses a moving request
  }
  for (auto& s : gone) finish(*s, FinishReason::cancelled);
  for (auto& s : active_)
    if (s->group == group && s->done && s->slot >= 0) finish(*s, FinishReason::cancelled);
  for (auto& s : active_)
    if (s->group == group && !s->done && s->req.max_tokens == 0) finish(*s, FinishReason::length);
}

std::vector<Feed> Engine::feeds(int group) {
  const int ctx = dec_.config().ctx;
  std::vector<Feed> f;
  for (auto& sp : active_) {
    Sequence& s = *sp;
    if (s.done || s.group != group) continue;
    const int len = static_cast<int>(s.tokens.size());
    if (s.cached == 0 || s.cached == ctx || recompute_) {  // (re)compute the window
      const int w = std::min(len, ctx);
      s.feed.assign(s.tokens.end() - w, s.tokens.end());
      f.push_back({s.slot, s.feed, 0});
      s.cached = w;
    } else {  // one new row
      s.feed.assign(1, s.tokens.back());
      f.push_back({s.slot, s.feed, s.cached});
      ++s.cached;
    }
  }
  return f;
}

bool Engine::step() {
  const int G = static_cast<int>(in_flight_.size());
  {  // ids cancelled after they finished (or never known) would stay forever
    std::lock_guard lock(mu_);
    std::erase_if(cancelled_, [&](uint64_t id) {
      const auto is = [id](const auto& s) { return s->id == id; };
      return std::none_of(active_.begin(), active_.end(), is) &&
             std::none_of(waiting_.begin(), waiting_.end(), is);
    });
  }
  bool any = false;
  for (int g = 0; g < G; ++g) {
    if (in_flight_[g]) {
      any = true;
      continue;
    }
    admit(g);
    std::erase_if(active_, [&](const auto& s) { return s->done; });
    const std::vector<Feed> f = feeds(g);
    if (f.empty()) continue;
    dec_.submit(g, f);
    in_flight_[g] = 1;
    any = true;
  }
  if (!any) {
    std::lock_guard lock(mu_);
    active_count_ = active_.size();
    return !waiting_.empty();
  }
  const int g = dec_.collect();
  in_flight_[g] = 0;
  int fi = 0;
  for (auto& s : active_)
    if (!s->done && s->group == g) advance(*s, dec_.logits(fi++));
  std::erase_if(active_, [&](const auto& s) { return s->done; });
  std::lock_guard lock(mu_);
  active_count_ = active_.size();
  return true;
}

void Engine::advance(Sequence& s, const float* logits) {
  const auto& c = dec_.config();
  const int32_t t = pick_token({logits, static_cast<size_t>(c.padded_vocab())}, c.vocab,
                               s.req.sampling, s.tokens, s.rng, scratch_);
  if (s.req.stop_at_end_of_text && eot_ && t == *eot_) return finish(s, FinishReason::end_of_text);
  s.tokens.push_back(t);
  s.out.tokens.push_back(t);
  const size_t before = s.emitted;
  update_text(s);
  if (s.done) return;  // a stop string (update_text finished it)
  if (s.cb.on_token)
    s.cb.on_token(t, std::string_view(s.text).substr(before, s.emitted - before));
  if (static_cast<int>(s.out.tokens.size()) >= s.req.max_tokens) finish(s, FinishReason::length);
}

namespace {
// Bytes at the end of `t` that start an unfinished UTF-8 character.
size_t utf8_tail(const std::string& t) {
  for (size_t back = 1; back <= 3 && back <= t.size(); ++back) {
    const unsigned char c = t[t.size() - back];
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}
// The longest suffix of `t` (after `from`) that is a proper prefix of a stop string.
size_t stop_prefix_tail(const std::string& t, size_t from, const std::vector<std::string>& stops) {
  size_t best = 0;
  for (const auto& s : stops)
    for (size_t n = std::min(s.size() - 1, t.size() - from); n > best; --n)
      if (t.compare(t.size() - n, n, s, 0, n) == 0) {
        best = n;
        break;
      }
  return best;
}
}  // namespace

// Decodes the generated tokens; finds stop strings; advances `emitted` over the text
// that can no longer change.
void Engine::update_text(Sequence& s) {
  if (!tok_) return;
  s.text = tok_->decode(s.out.tokens);
  size_t stop_at = std::string::npos;
  for (const auto& st : s.req.stop) {
    const size_t p = s.text.find(st, s.emitted);
    if (p != std::string::npos) stop_at = std::min(stop_at, p);
  }
  if (stop_at != std::string::npos) {
    s.text.resize(stop_at);
    return finish(s, FinishReason::stop);
  }
  const size_t hold =
      std::max(utf8_tail(s.text), stop_prefix_tail(s.text, s.emitted, s.req.stop));
  s.emitted = std::max(s.emitted, s.text.size() - std::min(hold, s.text.size()));
}

void Engine::finish(Sequence& s, FinishReason r) {
  if (s.slot >= 0) {
    free_slots_[s.group].push_back(s.slot);
    s.slot = -1;
  }
  s.done = true;
  if (r != FinishReason::stop && tok_) s.text = tok_->decode(s.out.tokens);
  // the rest of the text (held-back bytes) goes out with the last event
  if (s.cb.on_token && s.text.size() > s.emitted && r != FinishReason::cancelled) {
    s.cb.on_token(-1, std::string_view(s.text).substr(s.emitted));
  }
  s.emitted = s.text.size();
  s.out.text = s.text;
  s.out.reason = r;
  if (s.cb.on_done) s.cb.on_done(s.out);
}

}  // namespace plait::infer
