//! Reprocessing: stored segments are opened in memory, passed through the current redaction
//! policy, re-sealed (fresh nonce, current key version) and written back with the policy's
//! version. The input is already-redacted text, so a reprocess can only redact more: every
//! earlier placeholder is carried over. Segments already at the policy's version are skipped,
//! so a run is idempotent and an interrupted run resumes; a segment that fails is reported and
//! the rest continue.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::audit::{self, Actor};
use super::calls::{DATA_KEY_VERSION, SealedSegment, open_segment, seal_segment};
use super::{Result, Store, StoreError};
use crate::redact::{RawSegment, RedactedSegment, Redactor, Span, TrackSegment, redact_recording};
use crate::transcript::TranscriptSegment;

/// One segment that could not be reprocessed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReprocessFailure {
    pub tenant: String,
    pub call: String,
    /// `None` when the whole call failed (e.g. its key could not be opened).
    pub seq: Option<u64>,
    pub error: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReprocessReport {
    pub calls: u64,
    pub updated: u64,
    pub skipped: u64,
    pub failures: Vec<ReprocessFailure>,
}

/// Re-redacts one call's segments (all of them, in order, per speaker, so identifiers split
/// across segments are found: [`redact_recording`]). Returns the new segments in input order.
fn re_redact(redactor: &Arc<Redactor>, segments: &[TranscriptSegment]) -> Vec<TranscriptSegment> {
    let mut speakers: Vec<&str> = Vec::new();
    for s in segments {
        if !speakers.contains(&s.speaker.as_str()) {
            speakers.push(&s.speaker);
        }
    }
    let raw = segments.iter().map(|s| TrackSegment {
        track: speakers
            .iter()
            .position(|x| *x == s.speaker)
            .expect("speaker listed"),
        segment: RawSegment {
            start: s.start,
            end: s.end,
            text: s.text.clone(),
            words: s.words.clone(),
        },
    });
    // a track emits its segments in the order it was given them (possibly later)
    let mut outputs: Vec<Vec<RedactedSegment>> = vec![Vec::new(); speakers.len()];
    for r in redact_recording(redactor, crate::sys::random_key(), &speakers, raw) {
        outputs[r.track].push(r.segment);
    }
    let mut next = vec![0usize; speakers.len()];
    segments
        .iter()
        .map(|old| {
            let t = speakers
                .iter()
                .position(|x| *x == old.speaker)
                .expect("speaker listed");
            let new = outputs[t].get(next[t]).cloned();
            next[t] += 1;
            match new {
                Some(new) => merge(old, new),
                // the redactor returns one output per final; keep the old segment if not
                None => old.clone(),
            }
        })
        .collect()
}

/// The re-redacted segment with the earlier spans carried over: each earlier placeholder is
/// found again, in order, outside the new spans (the redactor copies text outside its cuts
/// verbatim); one swallowed by a new span is covered by it.
fn merge(old: &TranscriptSegment, new: RedactedSegment) -> TranscriptSegment {
    let old_chars: Vec<char> = old.text.chars().collect();
    let new_chars: Vec<char> = new.text.chars().collect();
    let in_new_span = |i: usize| new.spans.iter().any(|s| i < s.end && i + 1 > s.start);
    let mut spans: Vec<Span> = new.spans.clone();
    let mut cursor = 0usize;
    for s in &old.redactions {
        let label: Vec<char> = old_chars
            .get(s.start..s.end)
            .map(|c| c.to_vec())
            .unwrap_or_default();
        if label.is_empty() {
            continue;
        }
        let found = (cursor..=new_chars.len().saturating_sub(label.len())).find(|&i| {
            new_chars[i..i + label.len()] == label[..] && !(i..i + label.len()).any(in_new_span)
        });
        if let Some(i) = found {
            spans.push(Span {
                start: i,
                end: i + label.len(),
                ..s.clone()
            });
            cursor = i + label.len();
        }
    }
    spans.sort_by_key(|s| s.start);
    TranscriptSegment {
        start: old.start,
        end: old.end,
        speaker: old.speaker.clone(),
        text: new.text,
        words: new.words,
        redactions: spans,
        policy_version: new.policy_version,
    }
}

impl Store {
    /// Reprocesses the calls of `tenants` under `redactor`'s policy. `on_call` is told after
    /// each call (for a progress bar).
    pub async fn reprocess(
        &self,
        actor: &Actor,
        tenants: &[String],
        redactor: &Arc<Redactor>,
        mut on_call: impl FnMut(u64, u64),
    ) -> Result<ReprocessReport> {
        let target = redactor.policy().version;
        let mut work: Vec<(String, String)> = Vec::new();
        for t in tenants {
            let mut tx = self.db.scoped_read(t).await?;
            let rows = sqlx::query(
                "SELECT DISTINCT call_id FROM segments WHERE tenant_id = $1 AND (policy_version < $2 OR key_version <> $3) ORDER BY call_id",
            )
            .bind(t)
            .bind(target as i64)
            .bind(DATA_KEY_VERSION as i64)
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::db("finding segments to reprocess"))?;
            tx.commit()
                .await
                .map_err(StoreError::db("finding segments to reprocess"))?;
            work.extend(rows.iter().map(|r| (t.clone(), r.get::<String, _>(0))));
        }
        let total = work.len() as u64;
        let mut report = ReprocessReport::default();
        for (done, (tenant, call)) in work.iter().enumerate() {
            match self
                .reprocess_call(actor, tenant, call, redactor, target, &mut report)
                .await
            {
                Ok(()) => {}
                Err(e) => report.failures.push(ReprocessFailure {
                    tenant: tenant.clone(),
                    call: call.clone(),
                    seq: None,
                    error: e.to_string(),
                }),
            }
            report.calls += 1;
            on_call(done as u64 + 1, total);
        }
        self.audit(
            actor,
            "reprocess",
            None,
            None,
            json!({"policy_version": target, "calls": report.calls, "updated": report.updated, "failed": report.failures.len()}),
        )
        .await?;
        Ok(report)
    }

    async fn reprocess_call(
        &self,
        actor: &Actor,
        tenant: &str,
        call: &str,
        redactor: &Arc<Redactor>,
        target: u32,
        report: &mut ReprocessReport,
    ) -> Result<()> {
        let mut tx = self.db.scoped_read(tenant).await?;
        let dek = self.call_data_key(&mut tx, tenant, call).await?;
        let sealed: Vec<SealedSegment> = self.sealed_segments(&mut tx, tenant, call).await?;
        tx.commit()
            .await
            .map_err(StoreError::db("reading segments"))?;
        // open what opens; a segment that does not is reported and left as it is
        let mut opened: Vec<(&SealedSegment, TranscriptSegment)> = Vec::new();
        for s in &sealed {
            match open_segment(&dek, tenant, call, s) {
                Ok(seg) => opened.push((s, seg)),
                Err(e) => report.failures.push(ReprocessFailure {
                    tenant: tenant.into(),
                    call: call.into(),
                    seq: Some(s.seq),
                    error: e.to_string(),
                }),
            }
        }
        let plain: Vec<TranscriptSegment> = opened.iter().map(|(_, seg)| seg.clone()).collect();
        let redone = re_redact(redactor, &plain);
        for ((s, _), new) in opened.iter().zip(redone) {
            if s.policy_version >= target && s.key_version == DATA_KEY_VERSION {
                report.skipped += 1;
                continue;
            }
            let new = TranscriptSegment {
                policy_version: target.max(s.policy_version),
                ..new
            };
            let (text, detail) = seal_segment(&dek, tenant, call, s.seq, &new);
            let mut tx = self.db.scoped(tenant).await?;
            let n = sqlx::query(
                "UPDATE segments SET text = $1, detail = $2, policy_version = $3, key_version = $4 \
                 WHERE call_id = $5 AND tenant_id = $6 AND seq = $7 AND policy_version = $8",
            )
            .bind(text)
            .bind(detail)
            .bind(new.policy_version as i64)
            .bind(DATA_KEY_VERSION as i64)
            .bind(call)
            .bind(tenant)
            .bind(s.seq as i64)
            .bind(s.policy_version as i64)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("re-sealing a segment"))?
            .rows_affected();
            if n == 1 {
                audit::append(
                    &mut tx,
                    actor,
                    "segment.reprocess",
                    Some(tenant),
                    Some(call),
                    json!({"seq": s.seq, "from": s.policy_version, "to": new.policy_version}),
                )
                .await?;
                report.updated += 1;
            } else {
                report.skipped += 1;
            }
            tx.commit()
                .await
                .map_err(StoreError::db("re-sealing a segment"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::{EntityKind, Policy};

    #[test]
    fn reprocessing_keeps_old_placeholders_and_adds_new_ones() {
        let mut p = Policy {
            version: 2,
            ..Policy::default()
        };
        p.entities = [EntityKind::Email, EntityKind::Phone, EntityKind::Name]
            .into_iter()
            .collect();
        let r = Arc::new(Redactor::new(p).unwrap());
        let text = "my name is [NAME] and my email is jo.bloggs@example.com".to_string();
        let old = TranscriptSegment {
            start: 0.0,
            end: 3.0,
            speaker: "caller".into(),
            redactions: vec![Span {
                kind: EntityKind::Name,
                start: 11,
                end: 17,
                t_start: Some(0.5),
                t_end: Some(0.9),
            }],
            text,
            words: vec![],
            policy_version: 1,
        };
        let out = re_redact(&r, std::slice::from_ref(&old));
        assert_eq!(out.len(), 1);
        let seg = &out[0];
        assert!(!seg.text.contains("example.com"), "{}", seg.text);
        assert!(
            seg.text.starts_with("my name is [NAME] and"),
            "{}",
            seg.text
        );
        let kinds: Vec<EntityKind> = seg.redactions.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, vec![EntityKind::Name, EntityKind::Email]);
        let chars: Vec<char> = seg.text.chars().collect();
        for s in &seg.redactions {
            let label: String = chars[s.start..s.end].iter().collect();
            assert!(label.starts_with('['), "{label}");
        }
        assert_eq!(seg.redactions[0].t_start, Some(0.5));
        assert_eq!(seg.policy_version, 2);
    }
}
