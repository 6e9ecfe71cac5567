//! Shared helpers for the integration tests: the real tiny.en model (made by
//! `scripts/setup.sh`, which the README's test command runs first) and the fixtures.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use callscribe::asr::{DecodeOptions, Model, PoolLayout, WhisperPool};

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A loopback port free a moment ago (for a server the test starts in another process).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

/// The model the tests run: `CALLSCRIBE_TEST_MODEL` or `models/ggml-tiny.en.bin`. A missing
/// model fails the test with instructions: it is never skipped.
pub fn model_path() -> PathBuf {
    let path = std::env::var_os("CALLSCRIBE_TEST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("models/ggml-tiny.en.bin"));
    assert!(
        path.is_file(),
        "the tests need the tiny.en model at {}: run scripts/setup.sh (or scripts/test.sh)",
        path.display()
    );
    path
}

pub fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::load(&model_path()).expect("load tiny.en"))
}

/// A pool with `workers` single-threaded workers on the shared model.
pub fn pool(workers: usize) -> WhisperPool {
    WhisperPool::new(
        model(),
        PoolLayout {
            workers,
            threads: 1,
        },
        DecodeOptions::default(),
    )
    .expect("pool")
}

/// Lower-case words with punctuation removed, for comparing transcripts loosely.
pub fn normalise(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || c.is_whitespace() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Deterministic noise in [-amp, amp].
pub fn noise(n: usize, amp: f32, mut seed: u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            ((seed >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0) * amp
        })
        .collect()
}

pub fn sine(freqs: &[f32], secs: f32, amp: f32) -> Vec<f32> {
    (0..(secs * 16000.0) as usize)
        .map(|i| {
            let t = i as f32 / 16000.0;
            freqs
                .iter()
                .map(|f| (std::f32::consts::TAU * f * t).sin())
                .sum::<f32>()
                * amp
                / freqs.len() as f32
        })
        .collect()
}
pub mod server;
