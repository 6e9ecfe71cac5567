//! The `[web]` table of the config file and the TLS files: sessions, cookies, rate limits and
//! `security.txt`, validated at start-up with precise messages.

use crate::config::ConfigError;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::limits::LimitsConfig;
use crate::store::SessionTimes;

/// `[web]` in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// A session ends this long after its last rotation (activity rotates it).
    pub session_idle_s: u64,
    /// … and in any case this long after sign-in.
    pub session_max_s: u64,
    /// A session token older than this is replaced on its next use.
    pub session_rotate_s: u64,
    /// Mark cookies `Secure` [default: when serving TLS]. Set true behind a TLS-terminating proxy.
    pub secure_cookies: Option<bool>,
    pub limits: LimitsConfig,
    /// A client must send a request's headers (and its first request) within this long.
    pub header_read_timeout_s: u64,
    /// A TLS client must finish its handshake within this long.
    pub tls_handshake_timeout_s: u64,
    /// Connections open at once (HTTP, WebSockets), in all and per client address; past either
    /// a new connection is closed at once. Keep `max_connections` below the process's
    /// open-file limit.
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    /// Reverse proxies (addresses or CIDR networks) trusted to name the client in
    /// `X-Forwarded-For`; back-off, rate limits and audit rows then use that address, and the
    /// proxies are exempt from `max_connections_per_address`. Empty: the header is ignored.
    pub trusted_proxies: Vec<String>,
    /// Subscriptions (`/v1/calls/…/events`, `/v1/calls/live`) one workspace may hold open;
    /// past it a new one gets 429.
    pub max_subscriptions_per_tenant: usize,
    /// A subscription is pinged this often; one that has not answered for two intervals is
    /// closed (4008).
    pub subscriber_ping_s: u64,
    /// A subscription's key (and browser session) is checked again this often: once revoked,
    /// expired or signed out, the subscription is closed (1008).
    pub subscription_recheck_s: u64,
    /// Client certificates (mutual TLS): `[web.client_certs]`.
    pub client_certs: super::mtls::ClientCerts,
    /// `/.well-known/security.txt` (RFC 9116); absent: 404.
    pub security_txt: Option<SecurityTxt>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            session_idle_s: 1800,
            session_max_s: 12 * 3600,
            session_rotate_s: 600,
            secure_cookies: None,
            limits: LimitsConfig::default(),
            header_read_timeout_s: 10,
            tls_handshake_timeout_s: 10,
            max_connections: 1000,
            max_connections_per_address: 256,
            trusted_proxies: Vec::new(),
            max_subscriptions_per_tenant: 200,
            subscriber_ping_s: 20,
            subscription_recheck_s: 5,
            client_certs: Default::default(),
            security_txt: None,
        }
    }
}

/// The fields of RFC 9116 (Contact and Expires are required).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityTxt {
    /// `mailto:` or `https://` URIs.
    pub contact: Vec<String>,
    /// RFC 3339 date-time, e.g. 2027-06-30T00:00:00Z (at most a year ahead is recommended).
    pub expires: String,
    #[serde(default)]
    pub encryption: Vec<String>,
    #[serde(default)]
    pub acknowledgments: Option<String>,
    #[serde(default)]
    pub preferred_languages: Option<String>,
    #[serde(default)]
    pub canonical: Vec<String>,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub hiring: Option<String>,
}

impl WebConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.session_idle_s == 0 || self.session_max_s == 0 || self.session_rotate_s == 0 {
            return Err(ConfigError::new(
                "[web] session_idle_s, session_max_s and session_rotate_s must be at least 1",
            ));
        }
        if self.session_rotate_s >= self.session_idle_s {
            return Err(ConfigError::new(format!(
                "[web] session_rotate_s ({}) must be below session_idle_s ({}): an active session would expire before it is rotated",
                self.session_rotate_s, self.session_idle_s
            )));
        }
        self.limits.validate()?;
        for (name, v) in [
            ("header_read_timeout_s", self.header_read_timeout_s),
            ("tls_handshake_timeout_s", self.tls_handshake_timeout_s),
            ("subscriber_ping_s", self.subscriber_ping_s),
            ("subscription_recheck_s", self.subscription_recheck_s),
        ] {
            if !(1..=300).contains(&v) {
                return Err(ConfigError::new(format!(
                    "[web] {name} must be 1..=300, got {v}"
                )));
            }
        }
        if self.max_connections == 0
            || self.max_connections_per_address == 0
            || self.max_connections_per_address > self.max_connections
        {
            return Err(ConfigError::new(format!(
                "[web] max_connections ({}) and max_connections_per_address ({}) must be at least 1, \
                 the second at most the first",
                self.max_connections, self.max_connections_per_address
            )));
        }
        super::proxy::TrustedProxies::parse(&self.trusted_proxies)?;
        self.client_certs.validate()?;
        if self.max_subscriptions_per_tenant == 0 {
            return Err(ConfigError::new(
                "[web] max_subscriptions_per_tenant must be at least 1",
            ));
        }
        if let Some(s) = &self.security_txt {
            if s.contact.is_empty() {
                return Err(ConfigError::new(
                    "[web.security_txt] contact needs at least one mailto: or https: URI",
                ));
            }
            for c in s
                .contact
                .iter()
                .chain(&s.encryption)
                .chain(&s.canonical)
                .chain(s.policy.iter())
                .chain(s.acknowledgments.iter())
                .chain(s.hiring.iter())
            {
                if !(c.starts_with("mailto:")
                    || c.starts_with("https://")
                    || c.starts_with("tel:")
                    || c.starts_with("dns:")
                    || c.starts_with("openpgp4fpr:"))
                {
                    return Err(ConfigError::new(format!(
                        "[web.security_txt] {c:?} is not a mailto:, tel:, https:, dns: or openpgp4fpr: URI"
                    )));
                }
                if c.contains(['\n', '\r']) {
                    return Err(ConfigError::new(
                        "[web.security_txt] values must be single lines",
                    ));
                }
            }
            if !is_rfc3339(&s.expires) {
                return Err(ConfigError::new(format!(
                    "[web.security_txt] expires {:?} is not an RFC 3339 date-time such as 2027-06-30T00:00:00Z",
                    s.expires
                )));
            }
        }
        Ok(())
    }

    pub fn session_times(&self) -> SessionTimes {
        SessionTimes {
            idle_s: self.session_idle_s as i64,
            max_s: self.session_max_s as i64,
            rotate_s: self.session_rotate_s as i64,
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS` followed by `Z` or an offset, optionally with fractions.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    if b.len() < 20
        || !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10))
    {
        return false;
    }
    if !(matches!(b[10], b'T' | b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19))
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    rest == "Z"
        || rest == "z"
        || (rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':')
}

/// The rendered security.txt.
pub fn render_security_txt(s: &SecurityTxt) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: &str| out.push_str(&format!("{k}: {v}\n"));
    for c in &s.contact {
        line("Contact", c);
    }
    line("Expires", &s.expires);
    for e in &s.encryption {
        line("Encryption", e);
    }
    if let Some(a) = &s.acknowledgments {
        line("Acknowledgments", a);
    }
    if let Some(l) = &s.preferred_languages {
        line("Preferred-Languages", l);
    }
    for c in &s.canonical {
        line("Canonical", c);
    }
    if let Some(p) = &s.policy {
        line("Policy", p);
    }
    if let Some(h) = &s.hiring {
        line("Hiring", h);
    }
    out
}

/// TLS files (`--tls-cert`/`--tls-key` or `[tls]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates_are_recognised() {
        for ok in [
            "2027-06-30T00:00:00Z",
            "2027-06-30T00:00:00.5+05:30",
            "2027-06-30t12:00:00z",
        ] {
            assert!(is_rfc3339(ok), "{ok}");
        }
        for bad in [
            "2027-06-30",
            "30/06/2027",
            "2027-06-30T00:00:00",
            "2027-06-30T00:00:00+0530",
            "2027-06-30T00:00:00.Z",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }

    #[test]
    fn security_txt_is_validated_and_rendered_in_rfc_9116_fields() {
        let mut s = SecurityTxt {
            contact: vec!["mailto:security@example.com".into()],
            expires: "2027-06-30T00:00:00Z".into(),
            encryption: vec![],
            acknowledgments: None,
            preferred_languages: Some("en, hi".into()),
            canonical: vec!["https://example.com/.well-known/security.txt".into()],
            policy: None,
            hiring: None,
        };
        let cfg = WebConfig {
            security_txt: Some(s.clone()),
            ..WebConfig::default()
        };
        cfg.validate().unwrap();
        assert_eq!(
            render_security_txt(&s),
            "Contact: mailto:security@example.com\nExpires: 2027-06-30T00:00:00Z\nPreferred-Languages: en, hi\nCanonical: https://example.com/.well-known/security.txt\n"
        );
        s.contact = vec!["security@example.com".into()];
        let err = WebConfig {
            security_txt: Some(s.clone()),
            ..WebConfig::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("not a mailto:"), "{err}");
        s.contact = vec!["mailto:a@b.c".into()];
        s.expires = "next year".into();
        assert!(
            WebConfig {
                security_txt: Some(s),
                ..WebConfig::default()
            }
            .validate()
            .unwrap_err()
            .to_string()
            .contains("RFC 3339")
        );
    }

    #[test]
    fn session_times_must_rotate_before_idle_expiry() {
        let cfg = WebConfig {
            session_rotate_s: 1800,
            ..WebConfig::default()
        };
        assert!(cfg.validate().unwrap_err().names("session_rotate_s"));
    }
}
