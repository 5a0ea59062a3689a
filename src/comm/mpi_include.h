// <mpi.h> for C++ without OpenMPI's deprecated C++ bindings (which would need
// libmpi_cxx at link time); the C API is all plait uses.
#pragma once
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>
