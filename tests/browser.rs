//! The agent page in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by scripts/test.sh) driven over WebDriver. It signs in, opens
//! a call that the test streams in real time, and checks what an agent sees: finals with
//! speaker labels, interims replaced in place, redaction chips, no planted identifier anywhere
//! in the DOM, and a transcript without gaps or duplicates after the connection is dropped
//! under the page. Screenshots go to target/test-artifacts/.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use callscribe::api::{ServeOptions, WebConfig};
use callscribe::audio::ChannelMode;
use callscribe::client::replay::{ReplayOptions, replay};
use callscribe::ingest::Protocol;
use callscribe::live::LiveConfig;
use callscribe::store::Actor;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// chromedriver on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Driver {
    let bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].into_iter().find(|p| std::path::Path::new(p).exists()).unwrap_or_else(|| {
        panic!("chromedriver is not installed: run scripts/test.sh (it installs Debian's chromium and chromium-driver)")
    });
    let port = common::free_port();
    let child = Command::new(bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on {port} within 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--window-size=1280,900", format!("--user-data-dir={}", profile.display())],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session")
}

/// A loopback TCP proxy in front of the server whose connections can all be cut at once —
/// the browser sees the server drop it.
struct Proxy {
    addr: SocketAddr,
    cut: tokio::sync::watch::Sender<u64>,
    accepted: Arc<AtomicUsize>,
}

async fn proxy(upstream: SocketAddr) -> Proxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (cut, rx) = tokio::sync::watch::channel(0u64);
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut down, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let mut rx = rx.clone();
            rx.borrow_and_update();
            tokio::spawn(async move {
                let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut down, &mut up) => {}
                    _ = rx.changed() => {}
                }
            });
        }
    });
    Proxy {
        addr,
        cut,
        accepted,
    }
}

async fn wait_for(c: &Client, what: &str, limit: Duration, script: &str) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        // shown(id): rendered (CSS can override the hidden attribute; this sees what the agent sees)
        let script = format!(
            "const shown = (id) => getComputedStyle(document.getElementById(id)).display !== 'none';\n{script}"
        );
        let v = c.execute(&script, vec![]).await.expect("script runs");
        if !(v.is_null() || v == json!(false) || v == json!(0)) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn artifacts() -> PathBuf {
    let dir = common::repo().join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Records, in the page, every interim line that later became a final in place.
const OBSERVER: &str = r#"
window.__seen = { interims: 0, replaced: 0 };
const seen = new WeakSet();
new MutationObserver((muts) => {
  for (const m of muts) {
    if (m.type === "attributes" && m.attributeName === "class") {
      const li = m.target;
      if (li.classList && li.classList.contains("interim") && !seen.has(li)) { seen.add(li); window.__seen.interims++; }
      if ((m.oldValue || "").includes("interim") && li.classList.contains("final")) window.__seen.replaced++;
    }
  }
}).observe(document.getElementById("transcript"), { subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ["class"] });
return true;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_watches_a_live_call_in_a_real_browser() {
    let driver = chromedriver();
    let live = LiveConfig {
        redaction_hold_ms: 500,
        ..LiveConfig::default()
    };
    let srv = common::server::start(
        ServeOptions {
            web: WebConfig::default(),
            tls: None,
        },
        live,
    );
    let w = common::server::workspace(&srv, "browser").await;
    let proxy = proxy(srv.addr).await;
    let base = format!("http://{}", proxy.addr);
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    // sign in
    c.goto(&base).await.unwrap();
    wait_for(
        &c,
        "the sign-in form",
        Duration::from_secs(10),
        "return shown('signin') && !shown('app')",
    )
    .await;
    // keyboard only: type the key, press Enter
    c.find(Locator::Css("#key"))
        .await
        .unwrap()
        .send_keys(&format!("{}\u{E007}", w.agent))
        .await
        .unwrap();
    wait_for(
        &c,
        "the app after sign-in",
        Duration::from_secs(10),
        "return shown('app') && !shown('signin')",
    )
    .await;
    // the seeded, finished call is among the recent calls
    wait_for(
        &c,
        "recent calls",
        Duration::from_secs(10),
        &format!(
            "return !!document.querySelector('#recent-calls button[data-call-id=\"{}\"]')",
            w.call
        ),
    )
    .await;

    // stream the sample call in real time (directly to the server, not through the proxy)
    let opts = ReplayOptions {
        url: srv.ws_url(),
        protocol: Protocol::Native,
        speed: 1.0,
        ingest_key: w.ingest.as_str().into(),
        agent_key: None,
        call_id: "CAbrowser".into(),
        channels: ChannelMode::Split,
        linger: Duration::from_secs(60),
    };
    let sample = common::repo().join("samples/sample-call.wav");
    let streaming =
        tokio::spawn(async move { replay(&sample, &opts, |_| {}).await.map(|s| s.audio_s) });

    // the active call appears in the list by itself; open it
    let id = wait_for(&c, "the active call in the list", Duration::from_secs(15), "const b = document.querySelector('#active-calls button'); return b ? b.dataset.callId : null").await;
    let id = id.as_str().unwrap().to_string();
    // open it from the keyboard: focus the list entry, press Enter
    let entry = c
        .find(Locator::Css(&format!(
            "#active-calls button[data-call-id=\"{id}\"]"
        )))
        .await
        .unwrap();
    c.execute(
        "arguments[0].focus(); return document.activeElement === arguments[0]",
        vec![serde_json::to_value(&entry).unwrap()],
    )
    .await
    .unwrap();
    entry.send_keys("\u{E007}").await.unwrap();
    c.execute(OBSERVER, vec![]).await.unwrap();
    wait_for(
        &c,
        "the call view to be live",
        Duration::from_secs(10),
        "return document.getElementById('call-state').textContent === 'Live'",
    )
    .await;

    // a few finals in: screenshot, then cut every connection under the page
    wait_for(
        &c,
        "three finals",
        Duration::from_secs(40),
        "return document.querySelectorAll('#transcript li.final').length >= 3",
    )
    .await;
    std::fs::write(
        artifacts().join("live-call-view.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    let before_cut = proxy.accepted.load(Ordering::SeqCst);
    proxy.cut.send_modify(|n| *n += 1);
    wait_for(
        &c,
        "the page to notice the drop",
        Duration::from_secs(10),
        "return document.getElementById('call-state').textContent.startsWith('Reconnecting')",
    )
    .await;
    wait_for(
        &c,
        "the page to reconnect",
        Duration::from_secs(20),
        "return document.getElementById('call-state').textContent === 'Live'",
    )
    .await;
    assert!(
        proxy.accepted.load(Ordering::SeqCst) > before_cut,
        "the page opened new connections"
    );

    // to the end of the call
    let audio_s = streaming.await.unwrap().expect("the replay finished");
    assert!(audio_s > 30.0);
    wait_for(
        &c,
        "the call-ended state",
        Duration::from_secs(60),
        "return document.getElementById('call-state').textContent.startsWith('Call ended')",
    )
    .await;
    std::fs::write(
        artifacts().join("ended-call-view.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();

    // the DOM holds exactly the stored finals, in order, once each, with speaker labels
    let engine = srv.engine.clone();
    let (tenant, call) = (w.id.clone(), id.clone());
    let (_, transcript) = srv
        .on(async move {
            engine
                .store
                .transcript(&Actor::operator(), &tenant, &call)
                .await
                .unwrap()
        })
        .await;
    let lines = c
        .execute(
            "return [...document.querySelectorAll('#transcript li')].map(li => ({cls: li.className, seq: li.dataset.seq, who: li.querySelector('.speaker').textContent, text: li.querySelector('.text').textContent}))",
            vec![],
        )
        .await
        .unwrap();
    let lines = lines.as_array().unwrap();
    assert!(
        transcript.segments.len() >= 8,
        "{} stored segments",
        transcript.segments.len()
    );
    assert_eq!(
        lines.len(),
        transcript.segments.len(),
        "one line per stored final, no leftovers: {lines:?}"
    );
    for (i, (line, seg)) in lines.iter().zip(&transcript.segments).enumerate() {
        assert_eq!(line["cls"], "seg final", "line {i}");
        assert_eq!(line["seq"], i.to_string(), "line {i}: no gap, no duplicate");
        assert_eq!(line["text"], seg.text.as_str(), "line {i}");
        let who = if seg.speaker == "caller" {
            "Caller"
        } else {
            "Agent"
        };
        assert_eq!(line["who"], who, "line {i}");
    }
    assert!(
        lines.iter().any(|l| l["who"] == "Caller") && lines.iter().any(|l| l["who"] == "Agent")
    );
    // interims were shown provisionally and replaced in place by their finals
    let seen = c.execute("return window.__seen", vec![]).await.unwrap();
    assert!(
        seen["interims"].as_u64().unwrap() >= 2 && seen["replaced"].as_u64().unwrap() >= 1,
        "{seen}"
    );
    // redactions are chips with the type as tooltip, never the value
    let chips = c.execute("return [...document.querySelectorAll('#transcript .chip')].map(c => [c.dataset.type, c.title, c.textContent])", vec![]).await.unwrap();
    let chips = chips.as_array().unwrap();
    assert!(
        chips
            .iter()
            .any(|c| c[0] == "PHONE" && c[1] == "Phone number (redacted)" && c[2] == "[PHONE]"),
        "{chips:?}"
    );
    // callscribe's own random ids (c_…, t_… in base32) may contain any three digits: not PII
    let dom = c.execute("return document.documentElement.outerHTML.toLowerCase().replace(/\\b[ct]_[a-z2-7]{20,}\\b/g, '')", vec![]).await.unwrap();
    let dom = dom.as_str().unwrap();
    for planted in ["emily", "carter", "917", "426", "8350", "yahoo", "david"] {
        assert!(!dom.contains(planted), "{planted} is in the page");
    }
    // the call moved from the active list to the recent list
    wait_for(
        &c,
        "the call among recent calls",
        Duration::from_secs(10),
        &format!("return !!document.querySelector('#recent-calls button[data-call-id=\"{id}\"]')"),
    )
    .await;
    assert_eq!(
        c.execute(
            "return document.querySelectorAll('#active-calls button').length",
            vec![]
        )
        .await
        .unwrap(),
        json!(0)
    );
    // search over the loaded transcript
    c.find(Locator::Css("#search"))
        .await
        .unwrap()
        .send_keys("plan")
        .await
        .unwrap();
    let visible = wait_for(
        &c,
        "search results",
        Duration::from_secs(5),
        "return document.querySelectorAll('#transcript li:not(.hidden)').length",
    )
    .await;
    let expected = transcript
        .segments
        .iter()
        .filter(|s| s.text.to_lowercase().contains("plan"))
        .count();
    assert_eq!(visible, json!(expected));
    assert!(expected >= 1);
    // a tablet width: one column, nothing wider than the screen
    c.set_window_size(768, 1024).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "horizontal overflow of {overflow} px at tablet width"
    );
    std::fs::write(
        artifacts().join("tablet-call-view.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    // sign out: the session is gone on the server too
    c.find(Locator::Css("#signout"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        &c,
        "the sign-in form after sign-out",
        Duration::from_secs(10),
        "return shown('signin') && !shown('app')",
    )
    .await;
    let status = c
        .execute("return fetch('/v1/calls').then(r => r.status)", vec![])
        .await
        .unwrap();
    assert_eq!(status, json!(401));
    c.close().await.unwrap();
}
