// Test hook: crashes inside the checkpoint commit protocol at a named phase, so tests
// can show that a crash at any point of a write leaves a loadable previous checkpoint
// (docs/CHECKPOINTS.md, "The commit protocol"; docs/FAULT_TOLERANCE.md).
//
//   PLAIT_TEST_CRASH_AT=PHASE:STEP[,PHASE:STEP...]   the save of checkpoint STEP
//     data      after this rank's model file is durable, before its optimizer file
//     manifest  after manifest.json is durable in the temp directory, before the rename
//     rename    after the rename to step-N (and its fsync), before `latest` moves
//     latest    after latest.tmp is durable, before it replaces `latest`
//
// The process raises SIGKILL (no clean-up, as a power cut or the OOM killer would
// leave it), once per run directory: the first rank to arrive creates the marker
// RUN/test-crash-PHASE-STEP, so a restarted run goes past the same point.
#pragma once
#include <cstdint>
#include <filesystem>

namespace plait::fault {

void crash_point(const char* phase, int64_t step, const std::filesystem::path& run_dir);

}  // namespace plait::fault
