#include "cli/torch_peer.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "util/error.h"

namespace plait::cli {

std::string find_peer(const std::string& given) {
  if (given == "none") return "";
  if (!given.empty()) {
    if (!std::filesystem::exists(given)) throw UsageError("--peer: no file '" + given + "'");
    return given;
  }
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  for (const auto& p : {exe.parent_path().parent_path() / "tools" / "torch_gpt.py",
                        std::filesystem::path("tools/torch_gpt.py")})
    if (!ec && std::filesystem::exists(p)) return p.string();
  return "";
}

std::string peer_unavailable(const std::string& peer) {
  const char* python = "/usr/bin/python3";
  if (!std::filesystem::exists(python)) return "no /usr/bin/python3";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::string script = peer, check = "--check";
  char* argv[] = {const_cast<char*>(python), script.data(), check.data(), nullptr};
  pid_t pid = 0;
  const int err = posix_spawn(&pid, python, &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  if (err != 0 || waitpid(pid, &status, 0) < 0) return "cannot start /usr/bin/python3";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return "PyTorch is missing (Debian: apt-get install python3-torch)";
}

}  // namespace plait::cli
