//! Measures the redactor on the evaluation corpus.
//!
//! Reference mode (acceptance 2): feeds each turn's exact `text` of `REF_DIR/callNN.json`
//! through one `TrackRedactor` per speaker (one `CallRedactor` per call) and writes
//! `OUT_DIR/callNN.json` in the scorer's hypothesis format.
//!
//! ASR mode (acceptance 1): `--asr-dir DIR` reads unredacted hypotheses (same format, with
//! `segments[].words` and optionally `speaker`) and redacts them the same way, in order,
//! grouped by speaker.
//!
//! ```text
//! cargo run --example eval_ref -- --ref-dir ../shared/eval/calls --out /tmp/hyp
//! cargo run --example eval_ref -- --asr-dir /work/asr-out/8k --out /tmp/hyp8k [--with-raw]
//! python3 ../shared/eval/score.py --ref-dir ../shared/eval/calls --hyp-dir /tmp/hyp
//! ```
//! `--holdout-names` removes the corpus's own names from the gazetteer first (reads them from
//! the reference files' `pii` lists) to show what cues and call memory achieve alone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use callscribe::redact::{Policy, RawSegment, Redactor, TrackRedactor, Word};
use serde_json::{Value, json};

struct Seg {
    speaker: String,
    raw: RawSegment,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut ref_dir = None;
    let mut asr_dir = None;
    let mut out = PathBuf::from("/tmp/redact-hyp");
    let mut with_raw = false;
    let mut holdout = false;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--ref-dir" => {
                ref_dir = Some(PathBuf::from(&args[i + 1]));
                i += 1;
            }
            "--asr-dir" => {
                asr_dir = Some(PathBuf::from(&args[i + 1]));
                i += 1;
            }
            "--out" => {
                out = PathBuf::from(&args[i + 1]);
                i += 1;
            }
            "--with-raw" => with_raw = true,
            "--holdout-names" => holdout = true,
            other => panic!("unknown argument {other}"),
        }
        i += 1;
    }
    std::fs::create_dir_all(&out).expect("create output dir");
    let mut redactor = Redactor::new(Policy::default()).expect("default policy");
    if holdout {
        let dir = ref_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/work/shared/eval/calls"));
        let mut names = Vec::new();
        for f in json_files(&dir) {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            for p in v["pii"].as_array().into_iter().flatten() {
                if p["type"] == "person_name" {
                    names.extend(
                        p["value"]
                            .as_str()
                            .unwrap_or("")
                            .split_whitespace()
                            .map(str::to_lowercase),
                    );
                }
            }
        }
        eprintln!(
            "held out {} corpus name words from the gazetteer",
            names.len()
        );
        redactor = redactor.without_gazetteer_names(names.iter().map(String::as_str));
    }
    let redactor = Arc::new(redactor);
    let (dir, asr) = match (asr_dir, ref_dir) {
        (Some(d), _) => (d, true),
        (None, Some(d)) => (d, false),
        _ => panic!("give --ref-dir or --asr-dir"),
    };
    let mut n = 0;
    for f in json_files(&dir) {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let call_id = v["call_id"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| f.file_stem().unwrap().to_string_lossy().into_owned());
        let segs = if asr {
            asr_segments(&v)
        } else {
            ref_segments(&v)
        };
        if segs.is_empty() && !asr && v.get("turns").is_none() {
            continue;
        }
        let hyp = redact_call(&redactor, &call_id, segs, with_raw);
        std::fs::write(
            out.join(format!("{call_id}.json")),
            serde_json::to_string_pretty(&hyp).unwrap(),
        )
        .unwrap();
        n += 1;
    }
    eprintln!("wrote {n} hypotheses to {}", out.display());
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v
}

fn ref_segments(v: &Value) -> Vec<Seg> {
    v["turns"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| Seg {
            speaker: t["speaker"].as_str().unwrap_or("speaker").to_string(),
            raw: RawSegment {
                start: t["start"].as_f64().unwrap_or(0.0) as f32,
                end: t["end"].as_f64().unwrap_or(0.0) as f32,
                text: t["text"].as_str().unwrap_or("").to_string(),
                words: Vec::new(),
            },
        })
        .collect()
}

fn asr_segments(v: &Value) -> Vec<Seg> {
    let segs = v.get("segments").unwrap_or(v);
    segs.as_array()
        .into_iter()
        .flatten()
        .map(|s| Seg {
            speaker: s["speaker"].as_str().unwrap_or("mixed").to_string(),
            raw: RawSegment {
                start: s["start"].as_f64().unwrap_or(0.0) as f32,
                end: s["end"].as_f64().unwrap_or(0.0) as f32,
                text: s["text"].as_str().unwrap_or("").to_string(),
                words: s["words"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|w| Word {
                        word: w["word"].as_str().unwrap_or("").to_string(),
                        start: w["start"].as_f64().unwrap_or(0.0) as f32,
                        end: w["end"].as_f64().unwrap_or(0.0) as f32,
                        p: w["p"].as_f64().or(w["probability"].as_f64()).unwrap_or(1.0) as f32,
                    })
                    .collect(),
            },
        })
        .collect()
}

fn redact_call(redactor: &Arc<Redactor>, call_id: &str, segs: Vec<Seg>, with_raw: bool) -> Value {
    // a fixed per-call key derived from the id: only for reproducible evaluation output
    let mut key = [0u8; 32];
    for (k, b) in call_id.bytes().enumerate() {
        key[k % 32] ^= b;
    }
    let call = redactor.call(key);
    let mut tracks: HashMap<String, TrackRedactor> = HashMap::new();
    let mut raw_by_time: Vec<(f32, String)> = Vec::new();
    let mut out = Vec::new();
    for s in segs {
        let speaker = s.speaker.clone();
        raw_by_time.push((s.raw.start, s.raw.text.clone()));
        let tr = tracks
            .entry(speaker.clone())
            .or_insert_with(|| call.track(speaker == "agent"));
        for r in tr.push_final(s.raw) {
            out.push((speaker.clone(), r));
        }
    }
    let mut names: Vec<String> = tracks.keys().cloned().collect();
    names.sort();
    for sp in names {
        for r in tracks.get_mut(&sp).unwrap().flush() {
            out.push((sp.clone(), r));
        }
    }
    out.sort_by(|a, b| {
        a.1.start
            .partial_cmp(&b.1.start)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let segments: Vec<Value> = out
        .iter()
        .map(|(sp, r)| {
            let mut o = json!({"text": r.text, "start": r.start, "end": r.end, "speaker": sp,
            "spans": r.spans, "policy_version": r.policy_version});
            if with_raw && let Some((_, t)) = raw_by_time.iter().find(|(st, _)| *st == r.start) {
                o["raw_text"] = json!(t);
            }
            o
        })
        .collect();
    json!({"call_id": call_id, "segments": segments})
}
