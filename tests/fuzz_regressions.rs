//! Replays the committed fuzz inputs (`fuzz/regressions/<target>/`: every crash the fuzzers
//! found, and a few seeds) through the same property checks the fuzz targets run
//! (`callscribe::fuzzing`), so the ordinary test suite keeps every crash fixed. Heap bounds are
//! checked too: this binary counts allocations as the fuzz targets do.

use std::path::Path;

use callscribe::fuzzing::{CountingAllocator, TARGETS, replay_dir};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

fn replay(target: &str) {
    let (_, check) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a fuzz target of that name");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let n = replay_dir(&dir, *check).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    assert!(n > 0, "no regression inputs in {}", dir.display());
}

#[test]
fn ingest_inputs_keep_their_properties() {
    replay("ingest");
}

#[test]
fn reorder_inputs_keep_their_properties() {
    replay("reorder");
}

#[test]
fn codec_inputs_keep_their_properties() {
    replay("codec");
}

#[test]
fn decode_file_inputs_keep_their_properties() {
    replay("decode_file");
}

#[test]
fn redact_inputs_keep_their_properties() {
    replay("redact");
}

#[test]
fn config_inputs_keep_their_properties() {
    replay("config");
}

#[test]
fn every_target_has_a_regression_folder() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    for (name, _) in TARGETS {
        assert!(
            root.join(name).is_dir(),
            "fuzz/regressions/{name} is missing"
        );
    }
}
