//! Random correlation ids and URL encoding of path segments and query values.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything except RFC 3986 unreserved characters and `@` is encoded, so `#`, `?`,
/// `/`, `%`, `+`, spaces and quotes in a mailbox or event id cannot change the URL.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

/// Query values: unreserved characters only (spaces become `%20`, never `+`).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub(crate) fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// The path segment addressing a user: `users/{id}`, or `users('{id}')` for a UPN beginning
/// with `$`, which Graph would otherwise read as a system query option (Graph docs:
/// api-reference/v1.0/api/user-get.md, "When the userPrincipalName begins with a `$`").
pub(crate) fn user_segment(user: &str) -> String {
    if user.starts_with('$') {
        // Inside the quoted key a quote is doubled, as in every OData string literal.
        format!("users('{}')", encode_segment(&user.replace('\'', "''")))
    } else {
        format!("users/{}", encode_segment(user))
    }
}

pub(crate) fn encode_query_value(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let local = 0u8;
        nanos ^ (std::process::id() as u64).rotate_left(32) ^ (&local as *const u8 as u64)
    })
}

/// Not cryptographic: ids for correlation and jitter only.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut z = seed().wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A GUID-shaped `client-request-id`.
pub(crate) fn client_request_id() -> String {
    guid_from(random_u64(), random_u64())
}

/// Two random words shaped as a version-4 GUID (the form Graph's request ids take).
pub(crate) fn guid_from(a: u64, b: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// Uniform in [0, 1).
pub(crate) fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_awkward_mailboxes() {
        assert_eq!(
            encode_segment("a#b?c/d%e f+g@x.org"),
            "a%23b%3Fc%2Fd%25e%20f%2Bg@x.org"
        );
        assert_eq!(encode_segment("o'brien@x.org"), "o%27brien@x.org");
    }

    #[test]
    fn request_ids_look_like_guids_and_differ() {
        let a = client_request_id();
        let b = client_request_id();
        assert_eq!(a.len(), 36);
        assert_ne!(a, b);
    }
}
