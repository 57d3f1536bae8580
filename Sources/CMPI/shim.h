// OpenMPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are macros over addresses
// of library globals; Swift cannot import them, so these inline functions return them.
#ifndef KIBAN_CMPI_SHIM_H
#define KIBAN_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm kiban_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype kiban_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype kiban_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype kiban_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype kiban_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op kiban_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op kiban_mpi_max(void) { return MPI_MAX; }
static inline void *kiban_mpi_in_place(void) { return MPI_IN_PLACE; }
#endif
