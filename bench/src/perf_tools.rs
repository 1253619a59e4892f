//! libzmq-compatible perf tools (placeholder).
