//! loom models of the runtime's cross-core primitives live here (the SPSC ring arrives with the thread-per-core work).
