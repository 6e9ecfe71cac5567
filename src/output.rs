//! Transcript output formats: text, JSON (the schema the eval scorer and `transcript show`
//! share), SRT and WebVTT. The transcript types themselves live in `transcript/`. Everything written here has already passed `redact/`.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::transcript::Transcript;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Text,
    Json,
    Srt,
    Vtt,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Text => "txt",
            Format::Json => "json",
            Format::Srt => "srt",
            Format::Vtt => "vtt",
        }
    }
}

/// Renders a transcript in `format`.
pub fn render(t: &Transcript, format: Format) -> String {
    match format {
        Format::Text => render_text(t),
        Format::Json => serde_json::to_string(t).expect("transcript serialises") + "\n",
        Format::Srt => render_cues(t, false),
        Format::Vtt => render_cues(t, true),
    }
}

fn render_text(t: &Transcript) -> String {
    let mut s = String::new();
    for seg in &t.segments {
        let _ = writeln!(
            s,
            "[{} → {}] {}: {}",
            clock(seg.start, '.'),
            clock(seg.end, '.'),
            seg.speaker,
            seg.text
        );
    }
    s
}

fn render_cues(t: &Transcript, vtt: bool) -> String {
    let mut s = String::new();
    let sep = if vtt { '.' } else { ',' };
    if vtt {
        s.push_str("WEBVTT\n\n");
    }
    for (i, seg) in t.segments.iter().enumerate() {
        if !vtt {
            let _ = writeln!(s, "{}", i + 1);
        }
        let _ = writeln!(
            s,
            "{} --> {}",
            clock_hms(seg.start, sep),
            clock_hms(seg.end, sep)
        );
        if vtt {
            let _ = writeln!(
                s,
                "<v {}>{}\n",
                escape_vtt(&seg.speaker),
                escape_vtt(&seg.text)
            );
        } else {
            let _ = writeln!(s, "{}: {}\n", seg.speaker, seg.text);
        }
    }
    s
}

fn escape_vtt(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// mm:ss.cc
fn clock(secs: f32, sep: char) -> String {
    let cs = (secs.max(0.0) * 100.0).round() as u64;
    format!(
        "{:02}:{:02}{sep}{:02}",
        cs / 6000,
        (cs / 100) % 60,
        cs % 100
    )
}

/// hh:mm:ss,mmm (SRT) or hh:mm:ss.mmm (VTT)
fn clock_hms(secs: f32, sep: char) -> String {
    let ms = (secs.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}{sep}{:03}",
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::TranscriptSegment;

    fn sample() -> Transcript {
        Transcript {
            call_id: "call01".into(),
            segments: vec![TranscriptSegment {
                start: 61.5,
                end: 3723.25,
                speaker: "agent".into(),
                text: "Hello <there> & [PHONE]".into(),
                words: vec![],
                redactions: vec![],
                policy_version: 1,
            }],
        }
    }

    #[test]
    fn formats() {
        let t = sample();
        assert_eq!(
            render(&t, Format::Text),
            "[01:01.50 → 62:03.25] agent: Hello <there> & [PHONE]\n"
        );
        assert_eq!(
            render(&t, Format::Srt),
            "1\n00:01:01,500 --> 01:02:03,250\nagent: Hello <there> & [PHONE]\n\n"
        );
        assert_eq!(
            render(&t, Format::Vtt),
            "WEBVTT\n\n00:01:01.500 --> 01:02:03.250\n<v agent>Hello &lt;there&gt; &amp; [PHONE]\n\n"
        );
        let json: serde_json::Value = serde_json::from_str(&render(&t, Format::Json)).unwrap();
        assert_eq!(json["call_id"], "call01");
        assert_eq!(json["segments"][0]["speaker"], "agent");
        assert_eq!(json["segments"][0]["words"], serde_json::json!([]));
    }
}
