! ranksum: the smallest check that an MPI job is one world. Every rank
! adds its rank number with MPI_Allreduce; rank 0 prints the world size
! and the sum, which must be n(n-1)/2, and says SUCCESSFUL or FAILED.
! Built with Debian's mpif90.mpich, so it asks the loader for
! libmpichfort.so.12 and libmpich.so.12, which every hpcbench MPICH build
! provides.
program ranksum
  use mpi
  implicit none
  integer :: ierr, rank, nprocs, total, expected

  call MPI_Init(ierr)
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
  call MPI_Comm_size(MPI_COMM_WORLD, nprocs, ierr)
  call MPI_Allreduce(rank, total, 1, MPI_INTEGER, MPI_SUM, MPI_COMM_WORLD, ierr)
  expected = nprocs * (nprocs - 1) / 2
  if (rank == 0) then
    write (*, '(a, i0)') ' Total processes = ', nprocs
    write (*, '(a, i0)') ' Sum of ranks    = ', total
    if (total == expected) then
      write (*, '(a)') ' Verification    = SUCCESSFUL'
    else
      write (*, '(a)') ' Verification    = FAILED'
    end if
  end if
  call MPI_Finalize(ierr)
  if (total /= expected) stop 1
end program ranksum
