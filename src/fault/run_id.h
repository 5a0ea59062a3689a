// The run a process's checkpoints belong to: written into every manifest it commits
// ("run": 16 hex digits), so two runs' checkpoints are told apart (cli/run_guard.h
// sets it: new for a fresh run, the latest checkpoint's when resuming). Empty: none
// written (library users, tests).
#pragma once
#include <string>

namespace plait {

void set_checkpoint_run_id(const std::string& id);
std::string checkpoint_run_id();

}  // namespace plait
