# Extra CLI tests (included by the top-level CMakeLists.txt with name=cli,
# dir=tests/cli).
#
# metrics_port_test.cpp scrapes --metrics-port with httplib's client.
target_link_libraries(test_cli PRIVATE PkgConfig::HTTPLIB)

# The README's run path on a fresh clone of the repository: make_run_fresh_clone.sh
# clones the source tree into a temporary directory and runs `make demo` there with
# the built binary and 5 steps (needs git and the fortunes corpus that
# scripts/setup.sh installs).
add_test(NAME cli_make_run_fresh_clone
         COMMAND sh ${dir}/make_run_fresh_clone.sh ${PROJECT_SOURCE_DIR} $<TARGET_FILE:plait>)
set_tests_properties(cli_make_run_fresh_clone PROPERTIES TIMEOUT 300)

# Sources cite only documents that exist in the repository.
add_test(NAME cli_cited_docs_exist COMMAND sh ${dir}/cited_docs_exist.sh ${PROJECT_SOURCE_DIR})

# plait serve started as a user starts it, spoken to over plain HTTP (serve_smoke.sh).
add_test(NAME cli_serve_smoke
         COMMAND bash ${dir}/serve_smoke.sh $<TARGET_FILE:plait>
                 ${PROJECT_SOURCE_DIR}/tests/fixtures/gpt2_hf/model.safetensors)
set_tests_properties(cli_serve_smoke PROPERTIES TIMEOUT 300)

# tests/cli/mpi_metrics_port_test.cpp runs mpirun itself (--metrics-port under MPI); it
# is compiled in every build, the ThreadSanitizer one too (before the return below).
target_compile_definitions(test_cli PRIVATE PLAIT_MPIEXEC="${MPIEXEC_EXECUTABLE}")

# Fine-tuning from Hugging Face weights under mpirun equals the threads backend shard
# for shard (mpi_init_from_matches_threads.sh). Not under ThreadSanitizer (OpenMPI is
# not instrumented; see tests/comm/extra.cmake).
if(CMAKE_CXX_FLAGS MATCHES "sanitize=thread")
  return()
endif()
plait_mpi_script_test(cli_mpi_init_from_matches_threads 300 ${dir}/mpi_init_from_matches_threads.sh
  ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md ${PROJECT_SOURCE_DIR}/tests/fixtures/gpt2_hf)

# docs/LAUNCH.md's hostfile launch (2 nodes x 2 ranks) with localhost slots standing
# in for the two nodes (mpi_hostfile.sh).
plait_mpi_script_test(cli_mpi_hostfile_two_nodes 300 ${dir}/mpi_hostfile.sh
  ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md)

# A stalled MPI rank is reported by the heartbeat watchdog and ends the job
# (mpi_heartbeat_stall.sh).
plait_mpi_script_test(cli_mpi_heartbeat_stall 120 ${dir}/mpi_heartbeat_stall.sh
  ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md)

# Ranks exit when their mpirun is killed (mpi_orphans.sh).
plait_mpi_script_test(cli_mpi_ranks_die_with_launcher 120 ${dir}/mpi_orphans.sh
  ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md)

# plait launch restarts a killed MPI job from its checkpoint (mpi_launch_restart.sh).
plait_mpi_script_test(cli_mpi_launch_restart 180 ${dir}/mpi_launch_restart.sh
  ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md)

# SIGSTOP of an MPI rank: detected by the watchdog, restarted by plait launch
# (mpi_sigstop_recovery.sh).
plait_mpi_script_test(cli_mpi_sigstop_recovery 180 ${dir}/mpi_sigstop_recovery.sh
  ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md)

# --on-nonfinite rollback with 2 parameter servers under mpirun equals the threads
# data-parallel rollback (mpi_ps_rollback.sh).
plait_mpi_script_test(cli_mpi_ps_rollback 180 ${dir}/mpi_ps_rollback.sh
  ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md)

# Every MPI rank SIGSTOPped: plait launch finds the job hung from the heartbeat files,
# kills it and restarts it (mpi_launch_hang.sh).
plait_mpi_script_test(cli_mpi_launch_hang 180 ${dir}/mpi_launch_hang.sh
  ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md)

# Two MPI trials of tools/chaos.sh under plait launch (the script runs 20 or more).
plait_mpi_test(cli_chaos_mpi 300
  sh ${PROJECT_SOURCE_DIR}/tools/chaos.sh $<TARGET_FILE:plait> 2 mpi
  ${MPIEXEC_EXECUTABLE} 5)

# A few trials of tools/chaos.sh (the script runs 20 or more): random kill -9 under the
# supervisor, byte-identical weights (fixed seed, so a failure repeats).
add_test(NAME cli_chaos_threads
         COMMAND sh ${PROJECT_SOURCE_DIR}/tools/chaos.sh $<TARGET_FILE:plait> 3 threads mpirun 7)
set_tests_properties(cli_chaos_threads PROPERTIES TIMEOUT 300)

# Model-parallel generation under mpirun equals one worker (mpi_sample_matches_threads.sh).
plait_mpi_script_test(cli_mpi_sample_matches_one_worker 300 ${dir}/mpi_sample_matches_threads.sh
  ${PROJECT_SOURCE_DIR}/tests/fixtures/gpt2_hf/model.safetensors)

# plait serve under mpirun (rank 0 serves, rank 1 follows) answers one worker's greedy
# text and stops cleanly on SIGTERM (mpi_serve_matches_threads.sh).
plait_mpi_test(cli_mpi_serve_matches_one_worker 300
  bash ${dir}/mpi_serve_matches_threads.sh ${MPIEXEC_EXECUTABLE}
  $<TARGET_FILE:plait> ${PROJECT_SOURCE_DIR}/tests/fixtures/gpt2_hf/model.safetensors)

# tools/chaos.sh with elastic shrink: 3 workers, --min-workers 2, rank 2's node lost in some
# trials; shrunk runs within 1e-5 of the uninterrupted one (seed 3: trials 1-3 shrink).
add_test(NAME cli_chaos_threads_shrink
         COMMAND sh ${PROJECT_SOURCE_DIR}/tools/chaos.sh $<TARGET_FILE:plait> 3 threads-shrink
                 mpirun 3)
set_tests_properties(cli_chaos_threads_shrink PROPERTIES TIMEOUT 300)
# plait launch --min-workers: rank 2 of 3 is killed and its node stays lost, the job
# continues on 2 ranks within 1e-5 of the uninterrupted 3-rank run (one chaos trial).
plait_mpi_test(cli_mpi_launch_shrink 300
  sh ${PROJECT_SOURCE_DIR}/tools/chaos.sh $<TARGET_FILE:plait> 1 mpi-shrink
  ${MPIEXEC_EXECUTABLE} 5)

# --balance auto under mpirun re-splits a batch with a slowed rank and trains the equal
# split's model within 1e-5 (mpi_balance.sh).
plait_mpi_script_test(cli_mpi_balance 120 ${dir}/mpi_balance.sh
  ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md)

# Repartitioning under plait launch: the MPI job exits 3 for new stages, is restarted
# with them and matches a hand stop+resume byte for byte (mpi_repartition.sh).
plait_mpi_script_test(cli_mpi_repartition 180 ${dir}/mpi_repartition.sh
  ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md)

# Backup workers under plait launch outlive a killed MPI rank 2 (dropped, no restart,
# equal to one worker on the survivors' sequences within 1e-5); a killed rank 0 ends the
# survivors with an error naming it and the job restarts; under --servers 1 the server
# drops a killed worker the same way (mpi_backup_kill.sh).
plait_mpi_script_test(cli_mpi_backup_kill 300 ${dir}/mpi_backup_kill.sh
  ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md ${PROJECT_SOURCE_DIR}/tools/weights_diff.py)

# A parameter server killed in the servers' gradient-norm allreduce (--servers 2, backup
# workers): the other server ends with one line naming it, the job restarts from the
# checkpoint and matches a run without the fault (mpi_ps_server_kill.sh).
plait_mpi_script_test(cli_mpi_ps_server_kill 240 ${dir}/mpi_ps_server_kill.sh
  ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md)

# plait launch grows a shrunk job back when the lost node returns (mpi_launch_grow.sh).
plait_mpi_script_test(cli_mpi_launch_grow 300 ${dir}/mpi_launch_grow.sh
  ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md ${PROJECT_SOURCE_DIR}/tools/weights_diff.py)
