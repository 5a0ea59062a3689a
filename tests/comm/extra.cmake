# The MPI backend under mpirun (included by the top-level CMakeLists.txt with
# name=comm, dir=tests/comm). comm_mpi_check runs every collective against its closed
# form on 2, 3 and 4 ranks (4 as 2 emulated nodes of 2, so that the hierarchical
# allreduce is two-level), and work stealing's shared counter (an RMA window); the skip test needs a rank's timeout to name the rank that
# skipped an allreduce; the bench test runs `plait bench comm` (which checks every
# result) with the MPI backend, MPI_Allreduce included.
#
# Not under ThreadSanitizer: OpenMPI is not instrumented, and with MPI_THREAD_MULTIPLE
# one thread's MPI_Test may complete another thread's receive; TSan cannot see MPI's
# internal synchronisation and reports the hand-over as a race. (The threads transport
# and every collective are what the TSan build checks.) LeakSanitizer is off for these
# tests: OpenMPI keeps allocations until exit.
if(CMAKE_CXX_FLAGS MATCHES "sanitize=thread")
  return()
endif()
add_executable(comm_mpi_check ${dir}/mpi_check.cpp)
target_link_libraries(comm_mpi_check PRIVATE plait_comm)
add_dependencies(test_comm comm_mpi_check)

set(comm_mpirun ${MPIEXEC_EXECUTABLE} --allow-run-as-root --oversubscribe
    --mca btl_vader_single_copy_mechanism none)
foreach(np 2 3 4)
  set(rpn 0)
  if(np EQUAL 4)
    set(rpn 2)
  endif()
  plait_mpi_test(comm_mpi_np${np} 300
    ${comm_mpirun} -np ${np} $<TARGET_FILE:comm_mpi_check> --ranks-per-node ${rpn})
endforeach()

# Work stealing's counter when OpenMPI may not make its RMA window (osc/rdma without an
# RDMA-capable transport, osc/pt2pt under MPI_THREAD_MULTIPLE): the window's absence is
# agreed by every rank (null counter, stealing off), not an abort; where one of them does
# make it, the counter's checks run.
plait_mpi_test(comm_mpi_counter_without_osc_sm 120
  ${comm_mpirun} --mca osc rdma,pt2pt -np 2 $<TARGET_FILE:comm_mpi_check> --counter-only)

add_test(NAME comm_mpi_skip_names_missing_rank
         COMMAND ${comm_mpirun} -np 2 $<TARGET_FILE:comm_mpi_check> --skip)
set_tests_properties(comm_mpi_skip_names_missing_rank PROPERTIES TIMEOUT 60
  ENVIRONMENT ASAN_OPTIONS=detect_leaks=0
  PASS_REGULAR_EXPRESSION "allreduce\\(ring\\) #1 in group 'world' \\(rank 0 of 2\\) waited 0.5 s for rank 1")

plait_mpi_test(comm_mpi_bench_np2 300
  ${comm_mpirun} -np 2 $<TARGET_FILE:plait> bench comm --backend mpi --algo all
  --sizes 4K:1M --reps 2)
