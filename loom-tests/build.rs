//! Sets `cfg(loom)` for this crate only, so that the runtime sources it includes
//! (`runtime/src/sync.rs`) take their loom branch under a plain `cargo test`, without
//! `RUSTFLAGS` (which would also switch loom mode on in every other crate of the build).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
    println!("cargo::rustc-cfg=loom");
    println!("cargo::rerun-if-changed=build.rs");
}
