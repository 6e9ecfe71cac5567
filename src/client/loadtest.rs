//! The load generator: N concurrent calls replayed in real time over loopback WebSockets,
//! each followed through its events, and what an agent would have waited for measured:
//! utterance end → final, speech start → first interim, finals missing, calls refused, and the
//! server's CPU time (from its `/metrics`). `find_capacity` raises N until the p95 final latency
//! passes a bound or a call is refused. A long run (`--duration`, e.g. `scripts/soak.sh`) also
//! reports each minute on its own, so drift over time shows.
//!
//! Utterances (the reference the latencies are measured from): the turns of `NAME.json` beside
//! the audio (the eval corpus's format: `{"turns": [{"speaker", "start", "end"}]}`), else the
//! speech spans the batch VAD finds on each track.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::replay::{ReplayOptions, frames, replay_frames, require_loopback};
use crate::audio::{ChannelMode, LoadedTracks, load_tracks};
use crate::ingest::{Protocol, close};
use crate::secret::SecretString;
use crate::segment::vad::{VadConfig, find_speech};

/// One utterance of the reference: track, start and end in seconds of call audio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Turn {
    pub track: usize,
    pub start: f64,
    pub end: f64,
}

/// A call ready to stream.
#[derive(Clone)]
pub struct LoadCall {
    pub name: String,
    pub frames: Vec<Vec<Vec<u8>>>,
    pub speakers: Vec<String>,
    pub audio_s: f64,
    pub turns: Vec<Turn>,
}

const AUDIO_EXTENSIONS: &[&str] = &["wav", "flac", "mp3", "ogg", "m4a", "mp4", "aac"];

/// Loads every audio file of `dir` (sorted by name): a stereo file is two tracks (caller,
/// agent); a mono file with `NAME.json` turns is split into caller and agent tracks by them; a
/// mono file without is one track.
pub fn load_calls(dir: &Path, protocol: Protocol) -> anyhow::Result<Vec<LoadCall>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the audio directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!(
            "no audio files ({}) in {}",
            AUDIO_EXTENSIONS.join(", "),
            dir.display()
        );
    }
    files.iter().map(|f| load_call(f, protocol)).collect()
}

fn load_call(path: &Path, protocol: Protocol) -> anyhow::Result<LoadCall> {
    let LoadedTracks {
        mut tracks,
        mut speakers,
        audio_s,
    } = load_tracks(path, ChannelMode::Split)
        .with_context(|| format!("cannot decode {}", path.display()))?;
    // NAME.json beside NAME.wav, or beside NAME.8k.mulaw.wav (the name up to its first dot)
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let script = [
        path.with_extension("json"),
        path.with_file_name(format!("{}.json", stem.split('.').next().unwrap_or(&stem))),
    ]
    .into_iter()
    .find(|p| p.is_file());
    let scripted = match &script {
        Some(p) => Some(read_turns(p)?),
        None => None,
    };
    if tracks.len() > 2 {
        bail!(
            "{}: {} channels; the load test streams mono or stereo calls",
            path.display(),
            tracks.len()
        );
    }
    let turns = match (tracks.len(), scripted) {
        (1, Some(script)) => {
            // one mixed track and who spoke when: each party's track is the audio of its turns
            let mono = tracks.remove(0);
            let mut split = vec![vec![0.0f32; mono.len()], vec![0.0f32; mono.len()]];
            let mut turns = Vec::new();
            for (speaker, start, end) in script {
                let track = if speaker == "agent" { 1 } else { 0 };
                let (a, b) = (
                    (start * 16_000.0) as usize,
                    ((end * 16_000.0) as usize).min(mono.len()),
                );
                if a < b {
                    split[track][a..b].copy_from_slice(&mono[a..b]);
                }
                turns.push(Turn { track, start, end });
            }
            tracks = split;
            speakers = vec!["caller".into(), "agent".into()];
            turns
        }
        (2, Some(script)) => script
            .into_iter()
            .map(|(speaker, start, end)| Turn {
                track: usize::from(speaker == "agent"),
                start,
                end,
            })
            .collect(),
        _ => {
            let cfg = VadConfig::default();
            let mut turns: Vec<Turn> = tracks
                .iter()
                .enumerate()
                .flat_map(|(i, t)| {
                    find_speech(t, &cfg).into_iter().map(move |s| Turn {
                        track: i,
                        start: s.start as f64 / 16_000.0,
                        end: s.end as f64 / 16_000.0,
                    })
                })
                .collect();
            turns.sort_by(|a, b| a.start.total_cmp(&b.start));
            turns
        }
    };
    let frames = frames(&tracks, protocol)?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    Ok(LoadCall {
        name,
        frames,
        speakers,
        audio_s,
        turns,
    })
}

fn read_turns(path: &Path) -> anyhow::Result<Vec<(String, f64, f64)>> {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
    )
    .with_context(|| format!("{} is not JSON", path.display()))?;
    let turns = v
        .get("turns")
        .and_then(Value::as_array)
        .with_context(|| format!("{}: no \"turns\" array", path.display()))?;
    turns
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let speaker = t
                .get("speaker")
                .and_then(Value::as_str)
                .unwrap_or("caller")
                .to_string();
            let start = t
                .get("start")
                .and_then(Value::as_f64)
                .with_context(|| format!("{}: turn {i} has no start", path.display()))?;
            let end = t
                .get("end")
                .and_then(Value::as_f64)
                .with_context(|| format!("{}: turn {i} has no end", path.display()))?;
            anyhow::ensure!(
                end > start,
                "{}: turn {i} ends before it starts",
                path.display()
            );
            Ok((speaker, start, end))
        })
        .collect()
}

/// How to load the server.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `ws://127.0.0.1:PORT`
    pub url: String,
    pub calls: usize,
    /// Start the calls evenly over this many seconds.
    pub ramp_s: f64,
    pub speed: f32,
    pub protocol: Protocol,
    /// Keep N calls going for this long (each slot starts its next call when one ends); without
    /// it every slot streams one call.
    pub duration_s: Option<f64>,
    pub ingest_key: SecretString,
    pub agent_key: Option<SecretString>,
}

/// Percentiles in milliseconds (absent without samples).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub n: usize,
}

impl Percentiles {
    pub fn of(mut v: Vec<f64>) -> Percentiles {
        v.sort_by(f64::total_cmp);
        let at = |p: f64| -> Option<f64> {
            if v.is_empty() {
                return None;
            }
            let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
            Some((v[rank - 1] * 10.0).round() / 10.0)
        };
        Percentiles {
            p50: at(50.0),
            p95: at(95.0),
            p99: at(99.0),
            n: v.len(),
        }
    }
}

/// What one run measured (`--json` writes it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    pub calls: usize,
    pub calls_started: usize,
    /// Streamed to the end and closed normally with `call_ended`.
    pub calls_held: usize,
    /// Refused by admission control (close 1013).
    pub calls_refused: usize,
    /// Other failures (connection errors, unexpected closes).
    pub calls_failed: usize,
    pub finals_expected: usize,
    pub finals_missing: usize,
    pub finals_received: usize,
    pub interims_delivered: u64,
    pub interims_skipped: u64,
    pub final_latency_ms: Percentiles,
    pub first_interim_latency_ms: Percentiles,
    /// CPU seconds the server process used during the run (from its /metrics).
    pub server_cpu_seconds: Option<f64>,
    /// Of those, the seconds its recogniser threads spent inside whisper jobs.
    pub whisper_cpu_seconds: Option<f64>,
    /// Everything but whisper, as a share of the server's CPU: 1 − whisper / server.
    pub overhead_fraction: Option<f64>,
    pub wall_seconds: f64,
    pub audio_seconds: f64,
    /// The utterances grouped by the minute of the run their speech ended in (0 = the first),
    /// every minute up to the last one listed even when empty.
    pub minutes: Vec<MinuteWindow>,
}

/// The utterances whose speech ended in one minute of a run: a final is judged by when its
/// utterance ended, not when it arrived, so a late final counts against the minute it was due.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct MinuteWindow {
    pub minute: usize,
    pub finals_expected: usize,
    pub finals_missing: usize,
    pub final_latency_ms: Percentiles,
}

/// One utterance of a started call: when its speech ended (seconds since the run began) and its
/// final latency in ms (`None`: no final came).
#[derive(Debug, Clone, Copy, PartialEq)]
struct UtteranceTiming {
    ended_s: f64,
    latency_ms: Option<f64>,
}

/// Groups utterances into the minutes of the run, from minute 0 to the last one with any.
fn by_minute(utterances: &[UtteranceTiming]) -> Vec<MinuteWindow> {
    let minute = |u: &UtteranceTiming| (u.ended_s.max(0.0) / 60.0) as usize;
    let Some(last) = utterances.iter().map(minute).max() else {
        return Vec::new();
    };
    (0..=last)
        .map(|m| {
            let here: Vec<&UtteranceTiming> =
                utterances.iter().filter(|u| minute(u) == m).collect();
            MinuteWindow {
                minute: m,
                finals_expected: here.len(),
                finals_missing: here.iter().filter(|u| u.latency_ms.is_none()).count(),
                final_latency_ms: Percentiles::of(
                    here.iter().filter_map(|u| u.latency_ms).collect(),
                ),
            }
        })
        .collect()
}

/// The outcome of one call.
#[derive(Default)]
struct CallOutcome {
    started: bool,
    held: bool,
    refused: bool,
    failed: Option<String>,
    expected: usize,
    missing: usize,
    finals: usize,
    interims: u64,
    skipped: u64,
    final_latency: Vec<f64>,
    interim_latency: Vec<f64>,
    audio_s: f64,
    /// Every turn measured (those of a call that never sent audio have no time and are absent).
    utterances: Vec<UtteranceTiming>,
}

/// Streams one call and measures it; `began` is when the run began (for the per-minute report).
async fn one_call(
    call: &LoadCall,
    opts: &LoadOptions,
    call_id: String,
    began: Instant,
) -> CallOutcome {
    let ropts = ReplayOptions {
        url: opts.url.clone(),
        protocol: opts.protocol,
        speed: opts.speed,
        ingest_key: opts.ingest_key.clone(),
        agent_key: opts.agent_key.clone(),
        call_id,
        channels: ChannelMode::Split,
        linger: Duration::from_secs(60),
    };
    let mut events: Vec<(Instant, Value)> = Vec::new();
    let result = replay_frames(
        call.frames.clone(),
        call.speakers.clone(),
        call.audio_s,
        &ropts,
        |v| events.push((Instant::now(), v.clone())),
    )
    .await;
    let mut out = CallOutcome {
        audio_s: call.audio_s,
        expected: call.turns.len(),
        ..Default::default()
    };
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            out.failed = Some(format!("{e:#}"));
            return out;
        }
    };
    out.started = events.iter().any(|(_, v)| v["type"] == "call_started")
        || summary.finals > 0
        || summary.ended;
    if let Some((code, _)) = &summary.close
        && *code == close::TRY_AGAIN_LATER
    {
        out.refused = true;
        out.started = false;
        return out;
    }
    out.held = summary.ended
        && summary
            .close
            .as_ref()
            .is_none_or(|(c, _)| *c == close::NORMAL);
    if !out.held {
        out.failed = Some(match &summary.close {
            Some((c, r)) => format!("closed {c}: {r}"),
            None => "the call did not end".into(),
        });
    }
    let Some(t0) = summary.started else {
        return out;
    };
    let speed = if opts.speed > 0.0 {
        opts.speed as f64
    } else {
        f64::INFINITY
    };
    let wall = |audio_s: f64| t0 + Duration::from_secs_f64((audio_s / speed).max(0.0));
    let mut finals: Vec<(Instant, usize, f64, f64)> = Vec::new();
    let mut first_interim: std::collections::HashMap<(usize, u64), Instant> =
        std::collections::HashMap::new();
    for (at, v) in &events {
        match v["type"].as_str() {
            Some("transcript") => {
                let track = v["track"].as_u64().unwrap_or(0) as usize;
                if v["is_final"] == true {
                    if v["text"].as_str().is_some_and(|t| !t.is_empty()) {
                        out.finals += 1;
                        let (s, e) = (
                            v["start_ms"].as_f64().unwrap_or(0.0) / 1000.0,
                            v["end_ms"].as_f64().unwrap_or(0.0) / 1000.0,
                        );
                        finals.push((*at, track, s, e));
                        if let Some(sid) = v["segment_id"].as_u64() {
                            first_interim.entry((track, sid)).or_insert(*at);
                        }
                    }
                } else {
                    out.interims += 1;
                    if let Some(sid) = v["segment_id"].as_u64() {
                        first_interim.entry((track, sid)).or_insert(*at);
                    }
                }
            }
            Some("call_ended") => out.skipped += v["interims_skipped"].as_u64().unwrap_or(0),
            _ => {}
        }
    }
    // first interim per utterance: the earliest transcript event of the segments covering a turn
    let seg_first: Vec<(usize, f64, f64, Instant)> = events
        .iter()
        .filter(|(_, v)| v["type"] == "transcript" && v["is_final"] == false)
        .filter_map(|(_, v)| {
            let track = v["track"].as_u64()? as usize;
            let sid = v["segment_id"].as_u64()?;
            Some((
                track,
                v["start_ms"].as_f64()? / 1000.0,
                v["end_ms"].as_f64()? / 1000.0,
                *first_interim.get(&(track, sid))?,
            ))
        })
        .collect();
    for turn in &call.turns {
        let covering: Vec<&(Instant, usize, f64, f64)> = finals
            .iter()
            .filter(|f| f.1 == turn.track && f.2 < turn.end && f.3 > turn.start)
            .collect();
        let ended_s = wall(turn.end)
            .saturating_duration_since(began)
            .as_secs_f64();
        let Some(last) = covering.iter().map(|f| f.0).max() else {
            out.missing += 1;
            out.utterances.push(UtteranceTiming {
                ended_s,
                latency_ms: None,
            });
            continue;
        };
        let latency_ms = last.saturating_duration_since(wall(turn.end)).as_secs_f64() * 1000.0;
        out.final_latency.push(latency_ms);
        out.utterances.push(UtteranceTiming {
            ended_s,
            latency_ms: Some(latency_ms),
        });
        if let Some(first) = seg_first
            .iter()
            .filter(|s| s.0 == turn.track && s.1 < turn.end && s.2 > turn.start)
            .map(|s| s.3)
            .min()
        {
            out.interim_latency.push(
                first
                    .saturating_duration_since(wall(turn.start))
                    .as_secs_f64()
                    * 1000.0,
            );
        }
    }
    out
}

/// One load run of `opts.calls` concurrent calls.
pub async fn run(calls: &[LoadCall], opts: &LoadOptions) -> anyhow::Result<LoadReport> {
    require_loopback(&opts.url)?;
    if calls.is_empty() || opts.calls == 0 {
        bail!("nothing to run: no calls");
    }
    let cpu_before = cpu_seconds(&opts.url).await;
    let began = Instant::now();
    let deadline = opts.duration_s.map(|d| began + Duration::from_secs_f64(d));
    let calls = Arc::new(calls.to_vec());
    let run_id = crate::sys::random_id("")[..8].to_string();
    let mut tasks = tokio::task::JoinSet::new();
    for slot in 0..opts.calls {
        let calls = calls.clone();
        let opts = opts.clone();
        let run_id = run_id.clone();
        let delay = if opts.calls > 1 {
            opts.ramp_s * slot as f64 / (opts.calls - 1) as f64
        } else {
            0.0
        };
        tasks.spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(delay)).await;
            let mut outcomes = Vec::new();
            let mut k = slot;
            loop {
                let call = &calls[k % calls.len()];
                let id = format!("LT{run_id}-{slot}-{k}-{}", call.name);
                outcomes.push(one_call(call, &opts, id, began).await);
                k += opts.calls;
                match deadline {
                    Some(d) if Instant::now() < d => continue,
                    _ => break,
                }
            }
            outcomes
        });
    }
    let mut outcomes = Vec::new();
    while let Some(r) = tasks.join_next().await {
        outcomes.extend(r.context("a call task panicked")?);
    }
    let wall_seconds = began.elapsed().as_secs_f64();
    let cpu_after = cpu_seconds(&opts.url).await;
    let mut report = LoadReport {
        calls: opts.calls,
        wall_seconds: (wall_seconds * 100.0).round() / 100.0,
        ..Default::default()
    };
    let (mut fl, mut il, mut utterances) = (Vec::new(), Vec::new(), Vec::new());
    for o in outcomes {
        report.calls_started += usize::from(o.started);
        report.calls_held += usize::from(o.held);
        report.calls_refused += usize::from(o.refused);
        report.calls_failed += usize::from(!o.refused && o.failed.is_some());
        if let Some(f) = &o.failed
            && !o.refused
        {
            tracing::warn!("a call failed: {f}");
        }
        if o.started {
            report.finals_expected += o.expected;
            report.finals_missing += o.missing;
            report.audio_seconds += o.audio_s;
            utterances.extend(o.utterances);
        }
        report.finals_received += o.finals;
        report.interims_delivered += o.interims;
        report.interims_skipped += o.skipped;
        fl.extend(o.final_latency);
        il.extend(o.interim_latency);
    }
    report.final_latency_ms = Percentiles::of(fl);
    report.first_interim_latency_ms = Percentiles::of(il);
    report.minutes = by_minute(&utterances);
    let spent = |before: Option<f64>, after: Option<f64>| {
        Some(((after? - before?) * 100.0).round() / 100.0)
    };
    report.server_cpu_seconds = spent(cpu_before.server, cpu_after.server);
    report.whisper_cpu_seconds = spent(cpu_before.whisper, cpu_after.whisper);
    report.overhead_fraction = match (report.server_cpu_seconds, report.whisper_cpu_seconds) {
        (Some(all), Some(w)) if all > 0.0 => {
            Some(((1.0 - w / all).max(0.0) * 1000.0).round() / 1000.0)
        }
        _ => None,
    };
    Ok(report)
}

/// Did a run hold: every call held, none refused, p95 final latency within the bound?
pub fn held(r: &LoadReport, bound_ms: f64) -> bool {
    r.calls_refused == 0
        && r.calls_failed == 0
        && r.calls_held == r.calls_started
        && r.final_latency_ms.p95.is_some_and(|p| p <= bound_ms)
}

/// Raises N (doubling, then bisecting) from `opts.calls` until a run does not hold; returns
/// the largest N that held (0 if none) and every run's report.
pub async fn find_capacity(
    calls: &[LoadCall],
    opts: &LoadOptions,
    bound_ms: f64,
    max_calls: usize,
    mut on_run: impl FnMut(&LoadReport, bool),
) -> anyhow::Result<(usize, Vec<LoadReport>)> {
    let mut reports = Vec::new();
    let (mut good, mut bad) = (0usize, None::<usize>);
    let mut n = opts.calls.max(1);
    loop {
        wait_idle(&opts.url).await;
        let r = run(
            calls,
            &LoadOptions {
                calls: n,
                ..opts.clone()
            },
        )
        .await?;
        let ok = held(&r, bound_ms);
        on_run(&r, ok);
        reports.push(r);
        if ok {
            good = n;
        } else {
            bad = Some(n);
        }
        n = match bad {
            None if n >= max_calls => break,
            None => (n * 2).min(max_calls),
            Some(b) if b - good <= 1 => break,
            Some(b) => good + (b - good) / 2,
        };
    }
    Ok((good, reports))
}

/// Waits (up to a minute) until the server reports no active calls.
async fn wait_idle(url: &str) {
    for _ in 0..120 {
        match metric(url, "callscribe_active_calls").await {
            Some(n) if n > 0.0 => tokio::time::sleep(Duration::from_millis(500)).await,
            _ => return,
        }
    }
}

/// The server's CPU seconds so far, and whisper's share of them, from one read of /metrics.
#[derive(Default)]
struct CpuSeconds {
    server: Option<f64>,
    whisper: Option<f64>,
}

async fn cpu_seconds(url: &str) -> CpuSeconds {
    let Some(body) = metrics_text(url).await else {
        return CpuSeconds::default();
    };
    CpuSeconds {
        server: sum_samples(&body, "process_cpu_seconds_total"),
        whisper: sum_samples(&body, "callscribe_asr_cpu_seconds_total"),
    }
}

/// One unlabelled value from the server's /metrics.
async fn metric(url: &str, name: &str) -> Option<f64> {
    let body = metrics_text(url).await?;
    body.lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// The sum of every sample of `name`, labelled or not (e.g. both kinds of a counter).
fn sum_samples(body: &str, name: &str) -> Option<f64> {
    let values: Vec<f64> = body
        .lines()
        .filter_map(|l| l.strip_prefix(name))
        .filter(|rest| rest.starts_with('{') || rest.starts_with(' '))
        .filter_map(|rest| rest.rsplit(' ').next()?.trim().parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

async fn metrics_text(url: &str) -> Option<String> {
    let hostport = url.strip_prefix("ws://")?.split('/').next()?.to_string();
    let body = tokio::time::timeout(Duration::from_secs(5), async {
        let mut s = tokio::net::TcpStream::connect(&hostport).await.ok()?;
        s.write_all(
            format!("GET /metrics HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.ok()?;
        Some(String::from_utf8_lossy(&raw).to_string())
    })
    .await
    .ok()??;
    Some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_samples_are_summed_and_other_metrics_ignored() {
        let body = "# HELP x\nfoo_total{kind=\"final\"} 1.5\nfoo_total{kind=\"interim\"} 2\nfoo_total_other 7\nfoo 9\n";
        assert_eq!(sum_samples(body, "foo_total"), Some(3.5));
        assert_eq!(sum_samples(body, "bar_total"), None);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let p = Percentiles::of((1..=100).map(f64::from).collect());
        assert_eq!(
            (p.p50, p.p95, p.p99, p.n),
            (Some(50.0), Some(95.0), Some(99.0), 100)
        );
        let one = Percentiles::of(vec![700.0]);
        assert_eq!((one.p50, one.p99), (Some(700.0), Some(700.0)));
        assert_eq!(Percentiles::of(vec![]).p95, None);
    }

    #[test]
    fn utterances_are_grouped_by_the_minute_their_speech_ended_in() {
        let u = |ended_s, latency_ms| UtteranceTiming {
            ended_s,
            latency_ms,
        };
        let minutes = by_minute(&[
            u(0.0, Some(400.0)),
            u(59.9, Some(1200.0)),
            u(60.0, None),
            u(245.0, Some(800.0)),
            u(130.0, Some(600.0)),
        ]);
        let summary: Vec<(usize, usize, usize, Option<f64>)> = minutes
            .iter()
            .map(|m| {
                (
                    m.minute,
                    m.finals_expected,
                    m.finals_missing,
                    m.final_latency_ms.p95,
                )
            })
            .collect();
        // minute 1 has only a missing final (no latency); minute 3 has none due but is listed
        assert_eq!(
            summary,
            vec![
                (0, 2, 0, Some(1200.0)),
                (1, 1, 1, None),
                (2, 1, 0, Some(600.0)),
                (3, 0, 0, None),
                (4, 1, 0, Some(800.0)),
            ]
        );
        assert!(by_minute(&[]).is_empty());
    }

    #[test]
    fn a_run_holds_only_without_refusals_failures_or_slow_finals() {
        let mut r = LoadReport {
            calls_started: 4,
            calls_held: 4,
            final_latency_ms: Percentiles::of(vec![900.0, 1400.0]),
            ..Default::default()
        };
        assert!(held(&r, 1500.0));
        r.final_latency_ms = Percentiles::of(vec![900.0, 1600.0]);
        assert!(!held(&r, 1500.0));
        r.final_latency_ms = Percentiles::of(vec![900.0]);
        r.calls_refused = 1;
        assert!(!held(&r, 1500.0));
        r.calls_refused = 0;
        r.calls_held = 3;
        assert!(!held(&r, 1500.0));
    }

    #[test]
    fn mono_calls_with_turns_are_split_into_caller_and_agent_tracks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c1.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..16_000 {
            w.write_sample(((i as f32 * 0.3).sin() * 8000.0) as i16)
                .unwrap();
        }
        w.finalize().unwrap();
        std::fs::write(dir.path().join("c1.json"), r#"{"turns": [{"speaker": "agent", "start": 0.0, "end": 0.9}, {"speaker": "caller", "start": 1.0, "end": 1.9}]}"#).unwrap();
        let calls = load_calls(dir.path(), Protocol::Native).unwrap();
        assert_eq!(calls.len(), 1);
        let c = &calls[0];
        assert_eq!(c.speakers, ["caller", "agent"]);
        assert_eq!(
            c.turns,
            vec![
                Turn {
                    track: 1,
                    start: 0.0,
                    end: 0.9
                },
                Turn {
                    track: 0,
                    start: 1.0,
                    end: 1.9
                }
            ]
        );
        // 20 ms frames of 16 kHz L16: the agent track is silent where the caller speaks
        let energy = |t: usize, from: usize, to: usize| -> u64 {
            c.frames[t][from..to]
                .iter()
                .flat_map(|f| {
                    f.chunks(2)
                        .map(|b| i16::from_le_bytes([b[0], b[1]]).unsigned_abs() as u64)
                })
                .sum()
        };
        assert!(
            energy(1, 5, 40) > 0 && energy(0, 5, 40) == 0,
            "agent speaks first"
        );
        assert!(
            energy(0, 55, 90) > 0 && energy(1, 55, 90) == 0,
            "then the caller"
        );
        std::fs::write(
            dir.path().join("c1.json"),
            r#"{"turns": [{"speaker": "agent", "start": 2.0, "end": 1.0}]}"#,
        )
        .unwrap();
        assert!(
            format!(
                "{:#}",
                load_calls(dir.path(), Protocol::Native).err().unwrap()
            )
            .contains("ends before it starts")
        );
    }
}
