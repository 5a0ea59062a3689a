#include "cli/model_spec_of.h"

namespace plait {

plan::ModelSpec model_spec_of(const GPTConfig& c, int batch, const std::string& name,
                              const std::string& where) {
  plan::ModelSpec m;
  m.name = name;
  m.layers = c.layers, m.dim = c.dim, m.heads = c.heads;
  m.ctx = c.ctx, m.batch = batch, m.vocab = c.vocab;
  m.validate(where);
  return m;
}

}  // namespace plait
