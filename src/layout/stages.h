// The partition of a model's blocks into pipeline stages: the trainer builds its
// stages from it and the simulator costs the same stages.
#pragma once
#include <vector>

namespace plait {

// Blocks per stage when the user gives no --stages: sizes differ by at most one; the
// extra layers % stages blocks go to the earliest stages, never to the last one (it
// also carries the final norm, head and loss). Sum == layers, each >= 1.
// UsageError unless 1 <= stages <= layers.
std::vector<int> balance_stages(int layers, int stages);

// Blocks per stage when stage s also carries work worth extra[s] blocks (the planner:
// the embedding on the first stage, the final norm, head and loss on the last): the
// partition whose busiest stage (blocks + extra) is least; each >= 1, sum == layers.
// Ties keep balance_stages' order (extra blocks to the earliest stages), so with no
// extra work it IS balance_stages. UsageError unless 1 <= extra.size() <= layers.
std::vector<int> balance_stages_weighted(int layers, const std::vector<double>& extra);

// `given` (--stages) if not empty, else balance_stages(layers, stages).
std::vector<int> stage_sizes(const std::vector<int>& given, int layers, int stages);

// The first block of stage `s` (0 <= s <= sizes.size(); s = size: the block count).
int first_block(const std::vector<int>& sizes, int s);

// --stages against --pp and --layers: one entry per stage, each >= 1, adding up to
// the layers; UsageError naming the flag otherwise.
void check_stages(const std::vector<int>& stages, int pp, int layers);

// Whether a model of `layers` blocks of `dim` channels and `heads` heads splits into
// tp tensor slices (by heads, and the MLP's 4 x dim columns) and pp stages (one block
// each at least, or --stages): the trainer's check, which the simulator applies too.
// UsageError naming the flag otherwise.
void check_model_split(int layers, int dim, int heads, int tp, int pp,
                       const std::vector<int>& stages);

}  // namespace plait
