//! Provider authenticity: Twilio signs every request it makes, the Media Streams WebSocket
//! upgrade included, with `X-Twilio-Signature` — base64 of HMAC-SHA1, keyed by the account's
//! auth token, over the full URL it requested (a GET has no body parameters to append). A
//! workspace with a token configured (`[live.twilio_auth_tokens]`) gets no call from a stream
//! whose signature is missing or wrong: it is refused at `start`, before any audio is processed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Longest signature header kept (a SHA-1 tag is 28 base64 characters).
const MAX_SIGNATURE: usize = 128;

/// What the upgrade carried to prove it came from the provider: the signature header and the
/// URLs the provider may have signed (the scheme and default port are not known for certain
/// behind a proxy, so each plausible spelling is tried, as Twilio's own validators do).
#[derive(Clone, Default)]
pub struct SignedUpgrade {
    signature: Option<String>,
    urls: Vec<String>,
}

impl std::fmt::Debug for SignedUpgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedUpgrade")
            .field("signature", &self.signature.as_ref().map(|_| "<present>"))
            .field("urls", &self.urls)
            .finish()
    }
}

impl SignedUpgrade {
    /// From the upgrade request: its `X-Twilio-Signature`, `Host` and path with query.
    pub fn new(signature: Option<&str>, host: Option<&str>, path_and_query: &str) -> Self {
        let signature = signature
            .filter(|s| s.len() <= MAX_SIGNATURE)
            .map(str::to_string);
        let mut urls = Vec::new();
        if let Some(host) = host.filter(|h| h.len() <= 255 && !h.contains(['/', ' '])) {
            let mut hosts = vec![host.to_string()];
            match host.rsplit_once(':') {
                Some((bare, "443" | "80")) if !bare.ends_with(']') || bare.starts_with('[') => {
                    hosts.push(bare.to_string())
                }
                Some((_, port)) if port.chars().all(|c| c.is_ascii_digit()) => {}
                _ => hosts.push(format!("{host}:443")),
            }
            for scheme in ["wss", "ws", "https"] {
                for h in &hosts {
                    urls.push(format!("{scheme}://{h}{path_and_query}"));
                }
            }
        }
        SignedUpgrade { signature, urls }
    }

    /// Does the signature verify, with `auth_token`, over one of the URLs?
    pub fn verifies(&self, auth_token: &str) -> bool {
        let Some(tag) = self
            .signature
            .as_deref()
            .and_then(|s| STANDARD.decode(s.trim()).ok())
        else {
            return false;
        };
        let key = ring::hmac::Key::new(
            ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            auth_token.as_bytes(),
        );
        self.urls
            .iter()
            .any(|u| ring::hmac::verify(&key, u.as_bytes(), &tag).is_ok())
    }
}

/// The signature Twilio sends for `url` (for clients and tests).
pub fn twilio_signature(auth_token: &str, url: &str) -> String {
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        auth_token.as_bytes(),
    );
    STANDARD.encode(ring::hmac::sign(&key, url.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_reference_vector() {
        // The example in Twilio's security documentation (a POST: its sorted parameters are
        // appended to the URL; a WebSocket upgrade has none).
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = "CallSid CA1234567890ABCDE Caller +12349013030 Digits 1234 From +12349013030 To +18005551212";
        let mut data = url.to_string();
        let mut kv: Vec<_> = params
            .split(' ')
            .collect::<Vec<_>>()
            .chunks(2)
            .map(|c| (c[0], c[1]))
            .collect();
        kv.sort();
        for (k, v) in kv {
            data.push_str(k);
            data.push_str(v);
        }
        assert_eq!(
            twilio_signature("12345", &data),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }

    #[test]
    fn a_signature_over_the_upgrade_url_verifies_and_nothing_else_does() {
        let token = "f1d2d2f924e986ac86fdf7b36c94bcdf";
        let sig = twilio_signature(token, "wss://calls.example.com/v1/ingest/twilio");
        let up = SignedUpgrade::new(Some(&sig), Some("calls.example.com"), "/v1/ingest/twilio");
        assert!(up.verifies(token));
        assert!(!up.verifies("another token"), "the wrong token");
        let moved = SignedUpgrade::new(Some(&sig), Some("calls.example.com"), "/v1/ingest/twiliox");
        assert!(!moved.verifies(token), "another path");
        assert!(
            !SignedUpgrade::new(None, Some("calls.example.com"), "/v1/ingest/twilio")
                .verifies(token)
        );
        assert!(
            !SignedUpgrade::new(
                Some("not base64!"),
                Some("calls.example.com"),
                "/v1/ingest/twilio"
            )
            .verifies(token)
        );
        // behind a proxy the Host may carry the default port
        let up = SignedUpgrade::new(
            Some(&sig),
            Some("calls.example.com:443"),
            "/v1/ingest/twilio",
        );
        assert!(up.verifies(token));
        // the signature's value never shows in logs
        assert!(!format!("{up:?}").contains(&sig));
    }
}
