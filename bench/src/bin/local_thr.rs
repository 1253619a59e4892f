//! `local_thr` with libzmq's arguments and output, on Monocoque (see `perf_tools`).

fn main() {
    std::process::exit(monocoque_bench::perf_tools::main_of(
        monocoque_bench::perf_tools::Tool::LocalThr,
    ));
}
