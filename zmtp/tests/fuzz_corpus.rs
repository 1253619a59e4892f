//! Replays every file of the fuzz corpus (`fuzz/corpus/<target>/`, seeds captured
//! from libzmq peers plus whatever fuzzing added) through the fuzz targets' bodies, so
//! an input that once found a bug keeps being checked by the ordinary test command.

#[path = "../../fuzz/src/lib.rs"]
mod targets;

use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 10] = [
    ("greeting", targets::greeting),
    ("frame_decoder", targets::frame_decoder),
    ("null_handshake", targets::null_handshake),
    ("command", targets::command),
    ("z85", targets::z85),
    ("plain_handshake", targets::plain_handshake),
    ("zap_reply", targets::zap_reply),
    ("curve_server", targets::curve_server),
    ("curve_client", targets::curve_client),
    ("curve_session", targets::curve_session),
];

fn replay(name: &str, target: Target) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    for path in &files {
        let data = std::fs::read(path).expect("corpus file");
        let outcome = std::panic::catch_unwind(|| target(&data));
        assert!(outcome.is_ok(), "{name}: {} fails", path.display());
    }
    files.len()
}

#[test]
fn every_corpus_file_passes_its_target() {
    for (name, target) in TARGETS {
        let n = replay(name, target);
        assert!(n > 0, "{name}: empty corpus");
        eprintln!("{name}: {n} inputs");
    }
}
