//! Twilio's request signature, `X-Twilio-Signature`.
//!
//! Twilio signs each webhook with base64(HMAC-SHA1(auth token, URL followed
//! by every POST parameter sorted by name, each name then its value)). The
//! URL is the one Twilio requested, which behind a proxy is cyoa's public
//! URL, not the one the request reached cyoa with. Twilio's helper libraries
//! accept the URL with and without the scheme's default port (`:443`,
//! `:80`), because either may have been signed; so does cyoa.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

type HmacSha1 = Hmac<Sha1>;

/// The HTTP header Twilio puts the signature in.
pub const HEADER: &str = "x-twilio-signature";

/// The raw signature of `url` and `params` under `auth_token`.
fn mac(auth_token: &[u8], url: &str, params: &[(String, String)]) -> [u8; 20] {
    // HMAC takes a key of any length, so this cannot fail; an empty key
    // still gives a (useless) MAC rather than a panic.
    let mut mac = match HmacSha1::new_from_slice(auth_token) {
        Ok(mac) => mac,
        Err(_) => return [0; 20],
    };
    mac.update(url.as_bytes());
    // Sorted by name (byte order, as Twilio's libraries do); a repeated
    // name keeps all its values, sorted too.
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac.finalize().into_bytes().into()
}

/// The `X-Twilio-Signature` Twilio sends for a POST of `params` to `url`.
pub fn compute(auth_token: &[u8], url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(mac(auth_token, url, params))
}

/// Whether `signature` is Twilio's for `params` posted to `url` (as given,
/// or with its default port added or removed), compared in constant time.
pub fn is_valid(auth_token: &[u8], signature: &str, url: &str, params: &[(String, String)]) -> bool {
    let Ok(given) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    let mut valid = subtle::Choice::from(0);
    for candidate in std::iter::once(url.to_string()).chain(other_port_form(url)) {
        valid |= mac(auth_token, &candidate, params).ct_eq(&given[..]);
    }
    valid.into()
}

/// `url` with its default port removed if it has it, or added if it has
/// no port; `None` for another port or a scheme other than http(s).
pub fn other_port_form(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host_at = authority.rfind('@').map_or(0, |i| i + 1);
    let (userinfo, host_port) = authority.split_at(host_at);
    // The port follows the last ':' unless that ':' is inside an IPv6
    // literal (`[::1]`).
    match host_port.rfind(':').filter(|&i| !host_port[i..].contains(']')) {
        Some(i) if &host_port[i + 1..] == default => Some(format!("{scheme}://{userinfo}{}{tail}", &host_port[..i])),
        Some(_) => None,
        None => Some(format!("{scheme}://{authority}:{default}{tail}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Twilio's documented example.
    fn twilio_example() -> Vec<(String, String)> {
        params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ])
    }
    const EXAMPLE_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const EXAMPLE_SIGNATURE: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

    #[test]
    fn twilio_documented_example_gives_the_documented_signature() {
        assert_eq!(compute(b"12345", EXAMPLE_URL, &twilio_example()), EXAMPLE_SIGNATURE);
        assert!(is_valid(b"12345", EXAMPLE_SIGNATURE, EXAMPLE_URL, &twilio_example()));
    }

    #[test]
    fn parameter_order_does_not_matter() {
        let mut reordered = twilio_example();
        reordered.reverse();
        reordered.swap(0, 2);
        assert!(is_valid(b"12345", EXAMPLE_SIGNATURE, EXAMPLE_URL, &reordered));
    }

    #[test]
    fn a_wrong_token_url_or_body_is_refused() {
        let p = twilio_example();
        assert!(!is_valid(b"12346", EXAMPLE_SIGNATURE, EXAMPLE_URL, &p));
        assert!(!is_valid(b"", EXAMPLE_SIGNATURE, EXAMPLE_URL, &p));
        assert!(!is_valid(
            b"12345",
            EXAMPLE_SIGNATURE,
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &p
        ));
        assert!(!is_valid(
            b"12345",
            EXAMPLE_SIGNATURE,
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &p
        ));
        let mut tampered = p.clone();
        tampered[2].1 = "1235".to_string();
        assert!(!is_valid(b"12345", EXAMPLE_SIGNATURE, EXAMPLE_URL, &tampered));
        let mut extra = p.clone();
        extra.push(("Body".to_string(), "1".to_string()));
        assert!(!is_valid(b"12345", EXAMPLE_SIGNATURE, EXAMPLE_URL, &extra));
        let mut fewer = p;
        fewer.pop();
        assert!(!is_valid(b"12345", EXAMPLE_SIGNATURE, EXAMPLE_URL, &fewer));
    }

    #[test]
    fn a_malformed_signature_is_refused() {
        let p = twilio_example();
        for bad in [
            "",
            "not base64!",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=AA==",
            "AAAA",
        ] {
            assert!(!is_valid(b"12345", bad, EXAMPLE_URL, &p), "{bad:?}");
        }
    }

    #[test]
    fn the_default_port_may_or_may_not_have_been_signed() {
        let p = twilio_example();
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        let signed_with_port = compute(b"12345", with_port, &p);
        assert_ne!(signed_with_port, EXAMPLE_SIGNATURE);
        // Signed without the port, configured with it, and the reverse.
        assert!(is_valid(b"12345", EXAMPLE_SIGNATURE, with_port, &p));
        assert!(is_valid(b"12345", &signed_with_port, EXAMPLE_URL, &p));
        // Plain HTTP and port 80.
        let http = "http://localhost/sms";
        let http_80 = "http://localhost:80/sms";
        assert!(is_valid(b"t", &compute(b"t", http_80, &p), http, &p));
        assert!(is_valid(b"t", &compute(b"t", http, &p), http_80, &p));
        // Another port is never dropped or swapped.
        assert!(!is_valid(
            b"t",
            &compute(b"t", "https://h:8443/sms", &p),
            "https://h/sms",
            &p
        ));
        assert!(!is_valid(
            b"t",
            &compute(b"t", "https://h:80/sms", &p),
            "https://h/sms",
            &p
        ));
    }

    #[test]
    fn port_forms() {
        for (url, other) in [
            ("https://example.com/sms", Some("https://example.com:443/sms")),
            ("https://example.com:443/sms?a=1", Some("https://example.com/sms?a=1")),
            ("HTTPS://example.com", Some("HTTPS://example.com:443")),
            ("http://example.com?x", Some("http://example.com:80?x")),
            (
                "http://user:pw@example.com:80/sms",
                Some("http://user:pw@example.com/sms"),
            ),
            ("https://[::1]/sms", Some("https://[::1]:443/sms")),
            ("https://[::1]:443/sms", Some("https://[::1]/sms")),
            ("https://example.com:8443/sms", None),
            ("ftp://example.com/sms", None),
            ("example.com/sms", None),
        ] {
            assert_eq!(other_port_form(url).as_deref(), other, "{url}");
        }
    }

    #[test]
    fn repeated_parameters_are_all_signed_in_order() {
        let a = params(&[("MediaUrl", "b"), ("Body", "x"), ("MediaUrl", "a")]);
        let b = params(&[("Body", "x"), ("MediaUrl", "a"), ("MediaUrl", "b")]);
        let signature = compute(b"t", "https://h/sms", &a);
        assert_eq!(signature, compute(b"t", "https://h/sms", &b));
        // The string signed is the URL then BodyxMediaUrlaMediaUrlb.
        let mut mac = HmacSha1::new_from_slice(b"t").unwrap();
        mac.update(b"https://h/smsBodyxMediaUrlaMediaUrlb");
        assert_eq!(signature, STANDARD.encode(mac.finalize().into_bytes()));
        let once = params(&[("Body", "x"), ("MediaUrl", "a")]);
        assert!(!is_valid(b"t", &signature, "https://h/sms", &once));
    }
}
