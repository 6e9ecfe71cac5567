//! The load generator against a real server (real model, loopback): two concurrent calls held
//! with every utterance's final measured, and admission control's refusals counted.

mod common;

use callscribe::api::ServeOptions;
use callscribe::client::loadtest::{LoadOptions, load_calls, run};
use callscribe::ingest::Protocol;
use callscribe::live::LiveConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_calls_are_held_and_measured_and_refusals_counted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::repo().join("samples/sample-call.wav"),
        dir.path().join("sample-call.wav"),
    )
    .unwrap();
    let calls = load_calls(dir.path(), Protocol::Twilio).unwrap();
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0].turns.len() >= 8,
        "the VAD finds the sample's turns: {:?}",
        calls[0].turns
    );

    let roomy = common::server::start(ServeOptions::default(), LiveConfig::default());
    let tight = common::server::start(
        ServeOptions::default(),
        LiveConfig {
            max_calls: 1,
            ..LiveConfig::default()
        },
    );
    let (a, b) = (
        common::server::workspace(&roomy, "lt").await,
        common::server::workspace(&tight, "lt").await,
    );
    let opts = |url: String, ingest: &str, agent: &str| LoadOptions {
        url,
        calls: 2,
        ramp_s: 0.5,
        speed: 1.0,
        protocol: Protocol::Twilio,
        duration_s: None,
        ingest_key: ingest.into(),
        agent_key: Some(agent.into()),
    };
    let (oa, ob) = (
        opts(roomy.ws_url(), &a.ingest, &a.agent),
        opts(tight.ws_url(), &b.ingest, &b.agent),
    );
    let (held, refused) = tokio::join!(run(&calls, &oa), run(&calls, &ob));
    let r = held.unwrap();
    assert_eq!(
        (
            r.calls_started,
            r.calls_held,
            r.calls_refused,
            r.calls_failed
        ),
        (2, 2, 0, 0),
        "{r:?}"
    );
    assert_eq!(r.finals_expected, 2 * calls[0].turns.len());
    assert!(r.finals_missing <= 1, "{r:?}");
    let fl = r.final_latency_ms;
    assert_eq!(fl.n, r.finals_expected - r.finals_missing);
    assert!(
        fl.p50.unwrap() > 0.0 && fl.p50 <= fl.p95 && fl.p95 <= fl.p99 && fl.p99.unwrap() < 30_000.0,
        "{fl:?}"
    );
    assert!(
        r.first_interim_latency_ms.n > 0 && r.interims_delivered > 0,
        "{r:?}"
    );
    let cpu = r
        .server_cpu_seconds
        .expect("the server reports its CPU time");
    assert!(
        cpu > 0.5,
        "two calls of 33 s cost the server some CPU: {cpu}"
    );
    let whisper = r
        .whisper_cpu_seconds
        .expect("the server reports its recogniser's CPU time");
    assert!(
        whisper > 0.1 && whisper <= cpu + 0.05,
        "whisper {whisper} s of the process's {cpu} s"
    );
    assert!(
        r.overhead_fraction
            .is_some_and(|f| (0.0..=1.0).contains(&f)),
        "{r:?}"
    );
    assert!(
        r.wall_seconds > 33.0 && r.wall_seconds < 33.0 + 60.0,
        "{r:?}"
    );
    // the per-minute windows (two 33 s calls: minute 0, maybe 1) add up to the run's totals
    assert!(!r.minutes.is_empty() && r.minutes.len() <= 2, "{r:?}");
    assert_eq!(
        (
            r.minutes.iter().map(|m| m.finals_expected).sum::<usize>(),
            r.minutes.iter().map(|m| m.finals_missing).sum::<usize>(),
            r.minutes
                .iter()
                .map(|m| m.final_latency_ms.n)
                .sum::<usize>(),
        ),
        (r.finals_expected, r.finals_missing, fl.n),
        "{r:?}"
    );
    let json = serde_json::to_value(&r).unwrap();
    for key in [
        "calls_started",
        "calls_held",
        "calls_refused",
        "finals_expected",
        "finals_missing",
        "interims_delivered",
        "interims_skipped",
        "final_latency_ms",
        "first_interim_latency_ms",
        "server_cpu_seconds",
        "whisper_cpu_seconds",
        "overhead_fraction",
        "wall_seconds",
        "minutes",
    ] {
        assert!(json.get(key).is_some(), "{key} missing from {json}");
    }
    assert!(json["final_latency_ms"]["p95"].is_number());

    let r = refused.unwrap();
    assert_eq!(
        (r.calls_held, r.calls_refused),
        (1, 1),
        "max_calls 1: the second call is refused: {r:?}"
    );
    assert_eq!(
        r.finals_expected,
        calls[0].turns.len(),
        "a refused call expects nothing"
    );
    // the refusal shows in the server's metrics too
    let m = common::server::http(tight.addr, "GET", "/metrics", &[], None)
        .await
        .body;
    assert!(m.contains("callscribe_calls_refused_total 1\n"), "{m}");
}
