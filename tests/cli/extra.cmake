# Fine-tuning from Hugging Face weights under mpirun equals the threads backend shard
# for shard (mpi_init_from_matches_threads.sh). Not under ThreadSanitizer (OpenMPI is
# not instrumented; see tests/comm/extra.cmake).
if(CMAKE_CXX_FLAGS MATCHES "sanitize=thread")
  return()
endif()
add_test(NAME cli_mpi_init_from_matches_threads
         COMMAND sh ${dir}/mpi_init_from_matches_threads.sh ${MPIEXEC_EXECUTABLE}
                 $<TARGET_FILE:plait> ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md
                 ${PROJECT_SOURCE_DIR}/tests/fixtures/gpt2_hf)
set_tests_properties(cli_mpi_init_from_matches_threads PROPERTIES TIMEOUT 300
  ENVIRONMENT ASAN_OPTIONS=detect_leaks=0)
