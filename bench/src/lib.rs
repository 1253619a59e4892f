//! Benchmarks of Monocoque against libzmq (see ../shared/BENCH.md); filled in by the benchmark issue.
