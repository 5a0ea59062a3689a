// A generation request as JSON, the one parser that `plait sample --prompts` (one
// object per line) and `plait serve` (POST /v1/completions) share. Fields, OpenAI's
// names; every one but prompt optional, missing ones taken from `defaults`:
//   prompt              string (required)
//   max_tokens          integer >= 0
//   temperature         number >= 0 (0: greedy)
//   top_k               integer >= 0 (0: all)
//   top_p               number in (0, 1]
//   repetition_penalty  number > 0 (1: off)
//   seed                integer >= 0
//   stop                string or array of strings (at most 16, none empty)
//   stream              boolean (read by the server only)
// Unknown fields are ignored (clients send more than we use); a field of the wrong
// type or out of range is a UsageError naming it.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "data/tokenizer.h"
#include "infer/engine.h"

namespace plait::infer {

struct JsonRequest {
  std::string prompt;
  Request request;  // prompt encoded with the tokenizer
  bool stream = false;
};

// `max_prompt_tokens` > 0 caps the prompt's length (a server's request limit).
JsonRequest request_from_json(const nlohmann::json& j, const data::Tokenizer& tok,
                              const Request& defaults, size_t max_prompt_tokens = 0);

}  // namespace plait::infer
