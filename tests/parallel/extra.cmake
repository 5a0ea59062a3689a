# Data parallelism under mpirun (included by the top-level CMakeLists.txt with
# name=parallel, dir=tests/parallel): `plait train --backend mpi` must give the
# threads backend's weights bit for bit (mpi_matches_threads.sh), for ring on 2 and
# 3 ranks and hierarchical on 4 (2 emulated nodes of 2). Not under ThreadSanitizer
# (OpenMPI is not instrumented; see tests/comm/extra.cmake).
if(CMAKE_CXX_FLAGS MATCHES "sanitize=thread")
  return()
endif()
add_dependencies(test_parallel plait)
foreach(cfg "2;ring;0" "3;ring;0" "4;hierarchical;2")
  list(GET cfg 0 np)
  list(GET cfg 1 sync)
  list(GET cfg 2 rpn)
  plait_mpi_script_test(parallel_mpi_matches_threads_np${np}_${sync} 300
    ${dir}/mpi_matches_threads.sh ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md ${np} ${sync} ${rpn})
endforeach()
# Model-parallel layouts under mpirun equal the threads backend shard for shard.
# With ZeRO on the dp axis: the dp rank 0 of each coordinate writes its shards.
foreach(cfg "4;--tp;2;--pp;2" "2;--pp;2;--schedule;gpipe" "4;--dp;2;--tp;2"
            "4;--dp;2;--tp;2;--zero;2" "4;--dp;2;--pp;2;--zero;3")
  list(GET cfg 0 np)
  list(SUBLIST cfg 1 -1 layout)
  string(REPLACE ";" "" tag "${layout}")
  string(REPLACE "--" "_" tag "${tag}")
  plait_mpi_script_test(parallel_mpi_mesh_matches_threads_np${np}${tag} 300
    ${dir}/mpi_mesh_matches_threads.sh ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md ${np} ${layout})
endforeach()
# Backup workers under mpirun: a held rank is dropped, the result is the others' mean.
plait_mpi_script_test(parallel_mpi_backup_workers 300 ${dir}/mpi_backup_workers.sh
  ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md ${PROJECT_SOURCE_DIR}/tools/weights_diff.py)
# ZeRO under mpirun equals the threads backend byte for byte (weights and moments), in
# micro-batches (stages 2 and 3 reduce each one): stage 1 and 3 on 2 ranks, 2 on 3.
foreach(cfg "2;1" "3;2" "2;3")
  list(GET cfg 0 np)
  list(GET cfg 1 zero)
  plait_mpi_script_test(parallel_mpi_zero_matches_threads_np${np}_zero${zero} 300
    ${dir}/mpi_zero_matches_threads.sh ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md ${np} ${zero})
endforeach()
