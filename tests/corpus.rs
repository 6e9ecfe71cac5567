//! Generated calls end to end: the committed sample of the project's synthetic corpus
//! (`tests/fixtures/corpus`, made by `scripts/gen-corpus.sh`; docs/CORPUS.md) goes through
//! `callscribe transcribe` with the real tiny.en model, as a mono recording (both parties on
//! one channel, speakers unknown) and as a two-track one, and the redacted transcripts are
//! scored against the calls' planted identifiers by the generator's mirror of the evaluation
//! scorer (`scripts/gencorpus.py --score`): no identifier may survive, whole or in part.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{model_path, repo};

/// The sample's calls: (call id, mono file, stereo file).
fn sample() -> Vec<(String, PathBuf, PathBuf)> {
    let dir = repo().join("tests/fixtures/corpus");
    let mut calls: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/corpus")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let id = name.strip_suffix(".json")?.to_string();
            Some((
                id.clone(),
                dir.join(format!("{id}.8k.mulaw.wav")),
                dir.join(format!("{id}.8k.stereo.wav")),
            ))
        })
        .collect();
    calls.sort();
    assert!(calls.len() >= 3, "the committed sample has 3 calls");
    calls
}

/// Transcribes `files` (JSON, one file per input in `out`) with `--channels mode`.
fn transcribe(files: &[&Path], mode: &str, out: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_callscribe"))
        .arg("transcribe")
        .arg("--model")
        .arg(model_path())
        .args(["--format", "json", "--channels", mode, "--out"])
        .arg(out)
        .args(files)
        .output()
        .expect("run callscribe");
    assert!(
        o.status.success(),
        "callscribe transcribe --channels {mode} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Scores the redacted transcripts in `hyp` against the sample's references; the totals.
fn score(hyp: &Path) -> (serde_json::Value, String) {
    let o = Command::new("python3")
        .arg(repo().join("scripts/gencorpus.py"))
        .arg("--score")
        .arg(repo().join("tests/fixtures/corpus"))
        .arg(hyp)
        .output()
        .expect("python3 (the test suite's scripts need it) runs scripts/gencorpus.py");
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "gencorpus.py --score failed: {stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    let totals = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (totals, stdout)
}

#[test]
fn generated_calls_leak_no_identifier_in_batch_mono_or_two_track() {
    let calls = sample();
    for (mode, stereo) in [("mix", false), ("split", true)] {
        let out = tempfile::tempdir().unwrap();
        let files: Vec<&Path> = calls
            .iter()
            .map(|(_, mono, two)| {
                if stereo {
                    two.as_path()
                } else {
                    mono.as_path()
                }
            })
            .collect();
        transcribe(&files, mode, out.path());
        for (id, _, _) in &calls {
            let written = out.path().join(format!("{id}.json"));
            let text = std::fs::read_to_string(&written)
                .unwrap_or_else(|e| panic!("{}: {e}", written.display()));
            assert!(text.contains("\"segments\""), "{mode} {id}: {text}");
        }
        let (totals, report) = score(out.path());
        assert_eq!(totals["calls"], calls.len(), "{mode}: {report}");
        assert!(
            totals["identifiers"].as_u64().unwrap_or(0) >= 9,
            "{mode}: {report}"
        );
        assert_eq!(totals["leak_full"], 0, "{mode}: {report}");
        assert_eq!(totals["leak_any"], 0, "{mode}: {report}");
    }
}
