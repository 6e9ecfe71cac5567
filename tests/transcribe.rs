//! Transcription with the real tiny.en model: speech is recognised in every input format,
//! non-speech never produces text, the pool gives the same text with one or two workers, and
//! long speech is cut under the maximum without losing words.

mod common;

use std::sync::Arc;

use callscribe::audio::ChannelMode;
use callscribe::batch::{self, BatchOptions, FileOutcome, Redaction};
use callscribe::segment::{VadConfig, find_speech};
use callscribe::transcript::Transcript;
use common::{fixture, noise, normalise, pool, sine};

fn transcribe(
    files: &[std::path::PathBuf],
    workers: usize,
    vad: VadConfig,
    redact: bool,
) -> Vec<FileOutcome> {
    let redaction = if redact {
        Redaction::Policy(Arc::new(
            callscribe::redact::Redactor::new(Default::default()).unwrap(),
        ))
    } else {
        Redaction::DisabledForEvaluation
    };
    let opts = BatchOptions {
        channels: ChannelMode::Split,
        vad,
        no_vad: false,
        window_s: batch::DEFAULT_WINDOW_S,
        redaction,
    };
    let mut out = Vec::new();
    batch::run(files, &opts, &pool(workers), |o| out.push(o));
    out.sort_by_key(|o| o.index);
    out
}

fn text_of(t: &Transcript) -> String {
    normalise(
        &t.segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[test]
fn speech_is_recognised_in_every_format() {
    let files: Vec<_> = [
        "speech.16k.flac",
        "speech.8k.mulaw.wav",
        "speech.stereo44k.mp3",
    ]
    .map(fixture)
    .into();
    for o in transcribe(&files, 2, VadConfig::batch(), false) {
        let t = o
            .result
            .unwrap_or_else(|e| panic!("{}: {e}", o.path.display()));
        let text = text_of(&t);
        for word in ["hello", "test", "call", "transcription", "thank you"] {
            assert!(
                text.contains(word),
                "{}: {word:?} missing from {text:?}",
                o.path.display()
            );
        }
        assert!(t.segments.iter().all(|s| s.start < s.end && s.end <= 7.0));
        assert!(
            t.segments
                .iter()
                .flat_map(|s| &s.words)
                .all(|w| w.start <= w.end && (0.0..=1.0).contains(&w.p))
        );
    }
}

/// Non-speech straight into the model (no VAD in front): the guards alone keep it silent.
#[test]
fn the_model_says_nothing_for_non_speech() {
    let pool = pool(2);
    let music: Vec<f32> = {
        // A simple tune: three-note chords changing every 400 ms, with harmonics.
        let notes = [
            [262.0, 330.0, 392.0],
            [294.0, 370.0, 440.0],
            [220.0, 277.0, 330.0],
            [247.0, 311.0, 370.0],
        ];
        (0..4)
            .flat_map(|k| {
                let f = notes[k % 4];
                sine(&[f[0], f[1], f[2], f[0] * 2.0, f[1] * 3.0], 0.4, 0.3)
            })
            .cycle()
            .take(16000 * 6)
            .collect()
    };
    let cases: Vec<(&str, Vec<f32>)> = vec![
        ("silence", vec![0.0; 16000 * 5]),
        ("white noise", noise(16000 * 5, 0.3, 42)),
        ("line hiss", noise(16000 * 5, 0.01, 7)),
        ("440 Hz tone", sine(&[440.0], 4.0, 0.5)),
        ("dial tone", sine(&[350.0, 440.0], 4.0, 0.5)),
        ("DTMF", sine(&[697.0, 1209.0], 2.0, 0.5)),
        ("music on hold", music),
    ];
    for (name, audio) in cases {
        let h = pool.transcribe_blocking(audio, 0.0).unwrap();
        assert!(
            h.text.is_empty(),
            "{name}: the model said {:?} (no_speech {}, logprob {}, p {:?})",
            h.text,
            h.no_speech_prob,
            h.avg_logprob,
            h.words.iter().map(|w| w.p).collect::<Vec<_>>()
        );
        assert!(
            !h.text.contains('[') && !h.text.contains('('),
            "{name}: tag in {:?}",
            h.text
        );
    }
}

/// The VAD in front keeps non-speech from reaching the model at all.
#[test]
fn vad_finds_no_speech_in_silence_noise_and_tones() {
    let cfg = VadConfig::default();
    assert!(find_speech(&vec![0.0; 16000 * 5], &cfg).is_empty());
    assert!(find_speech(&noise(16000 * 5, 0.3, 1), &cfg).is_empty());
    assert!(find_speech(&sine(&[440.0], 4.0, 0.5), &cfg).is_empty());
    assert!(find_speech(&sine(&[350.0, 440.0], 4.0, 0.5), &cfg).is_empty());
    assert!(find_speech(&sine(&[941.0, 1336.0], 2.0, 0.5), &cfg).is_empty());
}

#[test]
fn two_workers_give_the_same_text_as_one() {
    let files = vec![
        common::repo().join("samples/sample-call.wav"),
        fixture("speech.16k.flac"),
    ];
    let one = transcribe(&files, 1, VadConfig::batch(), true);
    let two = transcribe(&files, 2, VadConfig::batch(), true);
    for (a, b) in one.iter().zip(&two) {
        let (a, b) = (a.result.as_ref().unwrap(), b.result.as_ref().unwrap());
        assert!(!a.segments.is_empty());
        let texts = |t: &Transcript| {
            t.segments
                .iter()
                .map(|s| (s.speaker.clone(), s.text.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(texts(a), texts(b));
    }
}

#[test]
fn long_speech_is_cut_under_the_maximum_without_losing_words() {
    // The sentence eight times with 250 ms pauses (shorter than the 500 ms endpoint): ~45 s of
    // continuous talk that the VAD must cut at its quiet points.
    let audio = callscribe::audio::decode_file(&fixture("speech.16k.flac")).unwrap();
    let one = &audio.channels[0];
    let mut long = Vec::new();
    for _ in 0..8 {
        long.extend_from_slice(&one[4000..one.len() - 4000]);
        long.extend(noise(4000, 0.001, 3));
    }
    let cfg = VadConfig {
        max_utterance_s: 15.0,
        ..Default::default()
    };
    let spans = find_speech(&long, &cfg);
    assert!(spans.len() >= 3, "{spans:?}");
    assert!(
        spans.iter().all(|s| s.len() as f32 / 16000.0 <= 15.5),
        "{spans:?}"
    );
    let pool = pool(2);
    let text: String = spans
        .iter()
        .map(|s| {
            pool.transcribe_blocking(long[s.start..s.end].to_vec(), 0.0)
                .unwrap()
                .text
        })
        .collect::<Vec<_>>()
        .join(" ");
    let n = normalise(&text).matches("thank you").count();
    assert!(
        n >= 7,
        "expected ~8 repetitions of the sentence, heard {n}: {text}"
    );
}

#[test]
fn stereo_calls_are_labelled_by_channel_and_redacted() {
    let files = vec![common::repo().join("samples/sample-call.wav")];
    let o = transcribe(&files, 2, VadConfig::batch(), true).remove(0);
    let t = o.result.unwrap();
    let speakers: std::collections::BTreeSet<_> =
        t.segments.iter().map(|s| s.speaker.as_str()).collect();
    assert_eq!(speakers, ["agent", "caller"].into());
    // The agent greets; the caller gives the number.
    assert_eq!(t.segments[0].speaker, "agent");
    let all = t
        .segments
        .iter()
        .map(|s| s.text.clone())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(all.contains("[PHONE]"), "{all}");
    let digits: String = all.chars().filter(|c| c.is_ascii_digit()).collect();
    assert!(
        !digits.contains("917") && !digits.contains("8350"),
        "phone digits survived: {all}"
    );
    assert!(t.segments.iter().all(|s| s.policy_version == 1));
}

#[test]
fn a_final_aborts_a_running_interim_and_the_worker_goes_on() {
    use callscribe::asr::{
        AsrError, AsrJob, DecodeOptions, PoolLayout, Reply, RtQueue, WhisperPool,
    };
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    let audio = callscribe::audio::decode_file(&fixture("speech.16k.flac")).unwrap();
    let one = audio.channels[0].clone();
    // an interim over ~25 s of talk: seconds of work for one single-threaded worker
    let mut long = Vec::new();
    while long.len() < 25 * 16_000 {
        long.extend_from_slice(&one);
    }
    let queue = Arc::new(RtQueue::new());
    let pool = WhisperPool::with_scheduler(
        common::model(),
        PoolLayout {
            workers: 1,
            threads: 1,
        },
        DecodeOptions::default(),
        queue.clone(),
    )
    .unwrap();
    let job = |id, audio, reply| AsrJob {
        id,
        audio,
        offset_s: 0.0,
        pauses: Vec::new(),
        reply: Reply::Channel(reply),
        context_floor: None,
        context_margin: None,
    };
    let (itx, irx) = crossbeam_channel::bounded(1);
    let (ftx, frx) = crossbeam_channel::bounded(1);
    queue.push_interim((1, 0), job(1, long, itx));
    let deadline = Instant::now() + Duration::from_secs(10);
    while queue.depth().interims > 0 {
        assert!(
            Instant::now() < deadline,
            "the worker never took the interim"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(30));
    queue.push_final(job(2, one, ftx), Instant::now());

    let interim = irx
        .recv_timeout(Duration::from_secs(60))
        .expect("the interim's result");
    assert!(
        matches!(interim.hypothesis, Err(AsrError::Aborted)),
        "the interim was not aborted: {:?}",
        interim.hypothesis.map(|h| h.text)
    );
    assert_eq!(queue.stats.interims_preempted.load(Ordering::Relaxed), 1);
    // the same worker (and whisper state) then decodes the final correctly
    let fin = frx
        .recv_timeout(Duration::from_secs(60))
        .expect("the final's result");
    let text = normalise(&fin.hypothesis.unwrap().text);
    assert!(
        text.contains("short test of the call transcription"),
        "{text}"
    );
    drop(pool);
}

/// Batch windows: utterances separated by pauses the VAD ends them at (1.2 s > its 1 s) are
/// sent to whisper together as one stretch of contiguous audio. Every utterance's words come
/// back, in time order, each at a time inside the recording, as they do one window per
/// utterance.
#[test]
fn packed_windows_keep_every_utterance_in_order() {
    let audio = callscribe::audio::decode_file(&fixture("speech.16k.flac")).unwrap();
    let one = &audio.channels[0];
    let mut long = Vec::new();
    for _ in 0..4 {
        long.extend_from_slice(&one[4000..one.len() - 4000]);
        long.extend(noise(19200, 0.001, 5));
    }
    let vad = VadConfig::batch();
    assert!(
        find_speech(&long, &vad).len() >= 4,
        "the pauses end utterances"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("four.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for s in &long {
        w.write_sample((s * 32767.0).clamp(-32768.0, 32767.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    let secs = long.len() as f32 / 16000.0;
    let pool = pool(2);
    let mut texts = Vec::new();
    for window_s in [0.0, batch::DEFAULT_WINDOW_S] {
        let opts = BatchOptions {
            channels: ChannelMode::Mix,
            vad: vad.clone(),
            no_vad: false,
            window_s,
            redaction: Redaction::DisabledForEvaluation,
        };
        let mut out = Vec::new();
        batch::run(std::slice::from_ref(&path), &opts, &pool, |o| out.push(o));
        let t = out.pop().unwrap().result.unwrap();
        let words: Vec<_> = t.segments.iter().flat_map(|s| s.words.iter()).collect();
        assert!(
            words.iter().all(|w| w.start >= 0.0 && w.end <= secs + 0.5),
            "word times inside the file"
        );
        assert!(
            t.segments.windows(2).all(|p| p[0].start <= p[1].start),
            "segments in time order"
        );
        // each repetition's "thank you" is heard in its own quarter of the recording
        let thanks: Vec<f32> = words
            .windows(2)
            .filter(|p| normalise(&p[0].word) == "thank" && normalise(&p[1].word) == "you")
            .map(|p| p[0].start)
            .collect();
        let quarters: std::collections::BTreeSet<usize> =
            thanks.iter().map(|t| (t / (secs / 4.0)) as usize).collect();
        assert_eq!(
            quarters.len(),
            4,
            "window {window_s}: \"thank you\" at {thanks:?} of {secs} s: {}",
            text_of(&t)
        );
        texts.push(text_of(&t));
    }
    assert_eq!(
        texts[0].matches("thank you").count(),
        texts[1].matches("thank you").count(),
        "{texts:?}"
    );
}
