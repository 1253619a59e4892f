//! Builds libzmq with CURVE over the libsodium that `libsodium-sys-stable` built.
//!
//! Link order matters: the code calling libzmq is in the `zmq` and `zmq-sys` rlibs,
//! which the linker sees after this crate's. A static library bundled into this rlib
//! would come too early, so both C libraries are linked unbundled (`-bundle`), which
//! rustc places after every rlib. zeromq-src and cc announce `libzmq.a` as bundled;
//! that name is left as an empty archive and the real one is renamed.

use std::{env, fs, path::PathBuf, process::Command};

fn main() {
    let dir = |name: &str| match env::var_os(name) {
        Some(dir) => PathBuf::from(dir),
        None => panic!("{name} is not set: libsodium-sys-stable did not say where it built"),
    };
    // libzmq's sources warn (unused parameters); a registry build's warnings are
    // hidden by cargo, a path crate's are not. They are not ours to fix.
    let flags = env::var("CXXFLAGS").unwrap_or_default();
    env::set_var("CXXFLAGS", format!("{flags} -w"));
    let sodium_lib = dir("DEP_SODIUM_LIB");
    let libsodium = zeromq_src::LibLocation::new(&sodium_lib, dir("DEP_SODIUM_INCLUDE"));
    zeromq_src::Build::new()
        .with_libsodium(Some(libsodium))
        .build();

    let out = dir("OUT_DIR");
    let unbundled = out.join("unbundled");
    fs::create_dir_all(&unbundled).expect("create the unbundled directory");
    let built = out.join("lib").join("libzmq.a");
    fs::rename(&built, unbundled.join("libzmq_curve.a")).expect("move libzmq.a");
    fs::copy(
        sodium_lib.join("libsodium.a"),
        unbundled.join("libsodium_curve.a"),
    )
    .expect("copy libsodium.a");
    let empty = Command::new(env::var("AR").unwrap_or_else(|_| "ar".into()))
        .arg("crs")
        .arg(&built)
        .status()
        .expect("run ar");
    assert!(empty.success(), "ar could not write an empty libzmq.a");

    println!("cargo:rustc-link-search=native={}", unbundled.display());
    println!("cargo:rustc-link-lib=static:-bundle=zmq_curve");
    println!("cargo:rustc-link-lib=static:-bundle=sodium_curve");
    println!("cargo:rerun-if-changed=build.rs");
}
