//! Throughput of each stage: G.711/L16 decoding, file decoding + resampling, VAD, redaction,
//! sealing and opening stored segments, one utterance through whisper at three lengths, and the
//! whole batch pipeline (decode → VAD → whisper → redaction) on the sample call (needs
//! models/ggml-tiny.en.bin, made by scripts/setup.sh). Run: `cargo bench --bench pipeline`
//! (one group: `cargo bench --bench pipeline -- seal`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use callscribe::asr::{DecodeOptions, Model, PoolLayout, WhisperPool};
use callscribe::audio::ChannelMode;
use callscribe::audio::{decode_file, g711, resample_to_16k};
use callscribe::batch::{self, BatchOptions, Redaction};
use callscribe::redact::{RawSegment, Redactor};
use callscribe::segment::{VadConfig, find_speech};
use callscribe::store::crypto::{self, Aad, Purpose, SecretKey};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const SPEECH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/speech.16k.flac"
);
const CALL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/sample-call.wav");

fn codecs(c: &mut Criterion) {
    let bytes: Vec<u8> = (0..8000u32).map(|i| (i * 37 % 251) as u8).collect(); // 1 s at 8 kHz
    let mut g = c.benchmark_group("g711");
    g.throughput(Throughput::Elements(bytes.len() as u64));
    let mut out = Vec::with_capacity(16000);
    g.bench_function("mulaw_1s", |b| {
        b.iter(|| {
            out.clear();
            g711::decode_mulaw(&bytes, &mut out);
        })
    });
    g.bench_function("alaw_1s", |b| {
        b.iter(|| {
            out.clear();
            g711::decode_alaw(&bytes, &mut out);
        })
    });
    g.bench_function("l16_1s", |b| {
        b.iter(|| {
            out.clear();
            g711::decode_l16_le(&bytes, &mut out);
        })
    });
    g.finish();
}

fn decode_and_resample(c: &mut Criterion) {
    let call = decode_file(Path::new(CALL)).unwrap();
    let secs = call.duration_s();
    let mut g = c.benchmark_group("audio");
    g.throughput(Throughput::Elements((secs * 1000.0) as u64)); // elements = ms of audio
    g.bench_function("decode_wav_stereo_8k", |b| {
        b.iter(|| decode_file(Path::new(CALL)).unwrap())
    });
    g.bench_function("resample_8k_to_16k", |b| {
        b.iter(|| resample_to_16k(&call.channels[0], 8000).unwrap())
    });
    g.finish();
}

fn vad(c: &mut Criterion) {
    let call = decode_file(Path::new(CALL)).unwrap();
    let pcm = resample_to_16k(&call.channels[0], 8000).unwrap();
    let mut g = c.benchmark_group("vad");
    g.throughput(Throughput::Elements((pcm.len() / 16) as u64)); // ms of audio
    g.bench_function("find_speech", |b| {
        b.iter(|| find_speech(&pcm, &VadConfig::batch()))
    });
    g.finish();
}

fn redactor(c: &mut Criterion) {
    let r = Arc::new(Redactor::new(Default::default()).unwrap());
    let lines = [
        "Good morning, thank you for calling, this is Priya. How may I help you?",
        "My mobile number is 98415 22076 and my email is priya dot s at gmail dot com.",
        "The plan costs 599 rupees for 84 days with 2 GB per day.",
        "The card number is 4111 1111 1111 1111, expiry 07/29, CVV 123.",
        "Okay, thank you so much, have a nice day.",
    ];
    let mut g = c.benchmark_group("redact");
    g.throughput(Throughput::Elements(lines.len() as u64)); // segments
    g.bench_function("segments", |b| {
        b.iter(|| {
            let mut t = r.track([7; 32], false);
            let mut n = 0;
            for l in lines {
                n += t
                    .push_final(RawSegment {
                        start: 0.0,
                        end: 1.0,
                        text: l.into(),
                        words: vec![],
                    })
                    .len();
            }
            n + t.flush().len()
        })
    });
    g.finish();
}

/// One stored final: its redacted text and its detail (words + spans as JSON, ~1 KB) sealed
/// under the call's data key, which is itself unwrapped from the tenant key first — what
/// `append_segment` and `transcript show` do per segment, without the database.
fn seal(c: &mut Criterion) {
    let kek = SecretKey::generate();
    let data_key = SecretKey::generate();
    let key_aad = Aad {
        purpose: Purpose::CallDataKey,
        tenant: "t_0123456789",
        call: "c_0123456789abcdef",
        seq: 0,
        key_version: 1,
    };
    let wrapped = crypto::wrap(&kek, &key_aad, &data_key);
    let text =
        "My mobile number is [PHONE] and my email is [EMAIL], and the plan costs 599 rupees.";
    let detail: String = format!(
        "{{\"words\":[{}],\"spans\":[{{\"kind\":\"PHONE\",\"start\":20,\"end\":27}}]}}",
        (0..16)
            .map(|i| format!("{{\"word\":\"word{i}\",\"start\":{i}.25,\"end\":{i}.5,\"p\":0.93}}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let text_aad = Aad {
        purpose: Purpose::SegmentText,
        tenant: "t_0123456789",
        call: "c_0123456789abcdef",
        seq: 42,
        key_version: 1,
    };
    let detail_aad = Aad {
        purpose: Purpose::SegmentDetail,
        ..text_aad
    };
    let mut g = c.benchmark_group("seal");
    g.throughput(Throughput::Elements(1)); // segments
    g.bench_function("seal_segment", |b| {
        b.iter(|| {
            let key = crypto::unwrap(&kek, &key_aad, &wrapped).unwrap();
            (
                crypto::seal(&key, &text_aad, text.as_bytes()),
                crypto::seal(&key, &detail_aad, detail.as_bytes()),
            )
        })
    });
    let sealed = (
        crypto::seal(&data_key, &text_aad, text.as_bytes()),
        crypto::seal(&data_key, &detail_aad, detail.as_bytes()),
    );
    g.bench_function("open_segment", |b| {
        b.iter(|| {
            let key = crypto::unwrap(&kek, &key_aad, &wrapped).unwrap();
            (
                crypto::open(&key, &text_aad, &sealed.0).unwrap().len(),
                crypto::open(&key, &detail_aad, &sealed.1).unwrap().len(),
            )
        })
    });
    g.finish();
}

fn load_model() -> Model {
    Model::load(
        &Model::resolve(
            "tiny.en",
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/models")),
        )
        .unwrap(),
    )
    .unwrap()
}

/// The whole batch pipeline on the shipped sample call (stereo, caller and agent split), with
/// the default layout (single-threaded workers filling the cores) and the redaction stage.
fn batch_pipeline(c: &mut Criterion) {
    let model = load_model();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = WhisperPool::new(
        &model,
        PoolLayout {
            workers: cores,
            threads: 1,
        },
        DecodeOptions::default(),
    )
    .unwrap();
    let opts = BatchOptions {
        channels: ChannelMode::Split,
        vad: VadConfig::batch(),
        no_vad: false,
        window_s: callscribe::batch::DEFAULT_WINDOW_S,
        redaction: Redaction::Policy(Arc::new(Redactor::new(Default::default()).unwrap())),
    };
    let files = [Path::new(CALL).to_path_buf()];
    let secs = decode_file(Path::new(CALL)).unwrap().duration_s();
    let mut g = c.benchmark_group("batch");
    g.sample_size(10).measurement_time(Duration::from_secs(30));
    g.throughput(Throughput::Elements((secs * 1000.0) as u64)); // ms of call audio
    g.bench_function("sample_call", |b| {
        b.iter(|| {
            let mut segments = 0;
            batch::run(&files, &opts, &pool, |o| {
                segments += o.result.as_ref().map_or(0, |t| t.segments.len())
            });
            assert!(segments > 0);
            segments
        })
    });
    g.finish();
}

fn whisper(c: &mut Criterion) {
    let model = load_model();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = WhisperPool::new(
        &model,
        PoolLayout {
            workers: 1,
            threads: cores,
        },
        DecodeOptions::default(),
    )
    .unwrap();
    let speech = decode_file(Path::new(SPEECH)).unwrap().channels.remove(0);
    let mut g = c.benchmark_group("whisper_utterance");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    for secs in [2.0f32, 5.0, 10.0] {
        let n = (secs * 16000.0) as usize;
        let audio: Vec<f32> = speech.iter().copied().cycle().take(n).collect();
        g.throughput(Throughput::Elements((secs * 1000.0) as u64));
        g.bench_with_input(
            BenchmarkId::from_parameter(format!("{secs}s")),
            &audio,
            |b, a| b.iter(|| pool.transcribe_blocking(a.clone(), 0.0).unwrap()),
        );
    }
    g.finish();
}

criterion_group!(
    benches,
    codecs,
    decode_and_resample,
    vad,
    redactor,
    seal,
    whisper,
    batch_pipeline
);
criterion_main!(benches);
