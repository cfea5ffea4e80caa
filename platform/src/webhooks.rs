//! Webhooks: where a vendor's notifications may be sent, and how each delivery is signed.
//!
//! A vendor names an HTTPS URL; the system posts each notification there, signed with a secret
//! only the vendor and the system know. A receiver checks
//! `X-Commerce-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>` against the
//! `X-Commerce-Timestamp` header (refusing old timestamps stops replays) and drops repeated
//! `X-Commerce-Delivery` ids: a delivery may arrive more than once, never with a different body.
//!
//! The system, not the vendor, runs these requests, so a URL must not reach into the
//! deployment's own network (SSRF): loopback, private, link-local and other special addresses
//! are refused, when the URL is set and again when each request connects (a name may resolve
//! elsewhere later). Local stacks and tests, whose receivers listen on 127.0.0.1, allow them
//! with `COMMERCE_WEBHOOK_LOCAL_TARGETS=true`.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use reqwest::Url;
use sha2::Sha256;

/// The longest URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// The signature of a delivery: `v1=` and the hex HMAC-SHA256 of `"{timestamp}.{body}"`.
pub const SIGNATURE_HEADER: &str = "x-commerce-signature";
/// When the delivery was signed, in seconds since the Unix epoch.
pub const TIMESTAMP_HEADER: &str = "x-commerce-timestamp";
/// The delivery's id: the same on every attempt of one delivery.
pub const DELIVERY_HEADER: &str = "x-commerce-delivery";
/// What it tells of (`order_confirmed`, `order_cancelled`, `order_shipped`, `return_…`).
pub const KIND_HEADER: &str = "x-commerce-event";

/// Which webhook URLs are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Targets {
    /// Public HTTPS endpoints only (production).
    Public,
    /// Also plain HTTP and private or loopback addresses (a local stack, tests).
    AlsoLocal,
}

impl Targets {
    /// From `COMMERCE_WEBHOOK_LOCAL_TARGETS`.
    pub fn from_flag(local: bool) -> Self {
        match local {
            true => Targets::AlsoLocal,
            false => Targets::Public,
        }
    }
}

/// Whether a URL has a length a webhook URL may have (the bound the API documents), or why
/// not.
pub fn length_refusal(raw: &str) -> Option<String> {
    (raw.is_empty() || raw.len() > MAX_URL_BYTES)
        .then(|| format!("must be 1 to {MAX_URL_BYTES} bytes long, got {}", raw.len()))
}

/// `raw` as a webhook URL, or why it is not one.
pub fn target(raw: &str, targets: Targets) -> Result<Url, String> {
    if let Some(why) = length_refusal(raw) {
        return Err(why);
    }
    let url = Url::parse(raw).map_err(|e| format!("not an absolute URL ({e})"))?;
    match (url.scheme(), targets) {
        ("https", _) | ("http", Targets::AlsoLocal) => {}
        ("http", Targets::Public) => return Err("must use https".into()),
        (scheme, _) => return Err(format!("must use https, not {scheme}")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    if targets == Targets::Public {
        match url.host() {
            None => return Err("must name a host".into()),
            Some(url::Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => {
                return Err(format!("{ip} is not a public address"))
            }
            Some(url::Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => {
                return Err(format!("{ip} is not a public address"))
            }
            Some(url::Host::Domain(name)) if is_local_name(name) => {
                return Err(format!("{name} is not a public host"))
            }
            Some(_) => {}
        }
    } else if url.host().is_none() {
        return Err("must name a host".into());
    }
    Ok(url)
}

/// Names that resolve inside the machine or its network by convention.
fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name.ends_with(".local")
        || name.ends_with(".internal")
}

/// Whether `ip` is an ordinary public unicast address (not loopback, private, link-local,
/// shared, documentation, benchmarking, multicast, reserved or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(ip),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || ip.to_ipv4().is_some()) // IPv4-compatible (deprecated) and NAT64 forms
}

/// A new signing secret: `whsec_` and 32 random bytes, base64url.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The `X-Commerce-Signature` value of `body` sent at `timestamp` (Unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length: this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        unreachable!("HMAC accepts keys of every length")
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(3 + digest.len() * 2);
    hex.push_str("v1=");
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// A resolver for the delivering HTTP client that gives only public addresses: a webhook's
/// host name cannot be pointed at the deployment's own network after its URL was accepted.
#[derive(Debug, Clone, Copy)]
pub struct PublicAddressesOnly;

impl reqwest::dns::Resolve for PublicAddressesOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found
                .into_iter()
                .filter(|address| is_public(address.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addresses: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addresses)
        })
    }
}

/// The HTTP client that delivers webhooks: no redirects (a receiver cannot send the request
/// elsewhere), a deadline per request, and with [`Targets::Public`] only public addresses.
pub fn delivery_client(
    targets: Targets,
    timeout: std::time::Duration,
) -> reqwest::Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(std::time::Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("commerce-webhooks/1");
    match targets {
        Targets::Public => builder.dns_resolver(Arc::new(PublicAddressesOnly)).build(),
        Targets::AlsoLocal => builder.build(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_targets_are_https_urls_of_public_hosts() {
        let ok = |raw: &str| target(raw, Targets::Public).map(|u| u.to_string());
        assert_eq!(
            ok("https://hooks.example.com/commerce?x=1").as_deref(),
            Ok("https://hooks.example.com/commerce?x=1")
        );
        for (raw, why) in [
            ("http://hooks.example.com/", "https"),
            ("ftp://hooks.example.com/", "https"),
            ("https://user:pw@hooks.example.com/", "user name"),
            ("https://127.0.0.1/", "not a public address"),
            ("https://10.1.2.3/", "not a public address"),
            (
                "https://169.254.169.254/latest/meta-data",
                "not a public address",
            ),
            ("https://100.64.0.1/", "not a public address"),
            ("https://[::1]/", "not a public address"),
            ("https://[fd00::1]/", "not a public address"),
            ("https://[::ffff:192.168.0.1]/", "not a public address"),
            ("https://localhost:8443/", "not a public host"),
            ("https://api.internal/", "not a public host"),
            ("not a url", "not an absolute URL"),
            ("", "1 to 2048"),
        ] {
            let refused = ok(raw).expect_err(raw);
            assert!(refused.contains(why), "{raw}: {refused}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES));
        assert!(ok(&long).is_err());
    }

    #[test]
    fn local_targets_also_allow_http_and_private_addresses() {
        for raw in [
            "http://127.0.0.1:9000/hook",
            "https://localhost/",
            "http://10.0.0.5/",
        ] {
            assert!(target(raw, Targets::AlsoLocal).is_ok(), "{raw}");
        }
        assert!(target("file:///etc/passwd", Targets::AlsoLocal).is_err());
    }

    #[test]
    fn public_addresses_are_ordinary_unicast_ones() {
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(public.parse().expect("ip")), "{public}");
        }
        for special in [
            "0.0.0.0",
            "127.0.0.53",
            "192.168.1.1",
            "172.16.0.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "fe80::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(special.parse().expect("ip")), "{special}");
        }
    }

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        // Computed apart from this code (Python's hmac module) over "0.do ya want for nothing?".
        assert_eq!(
            signature("Jefe", 0, b"do ya want for nothing?"),
            "v1=52ddb3ab53c970f3efbfb0e41f2f6d7a88ff6966673d1f56bf3eede5458ba678"
        );
        let body = b"{}";
        assert_ne!(signature("Jefe", 1, body), signature("Jefe", 2, body));
        assert_ne!(signature("Jefe", 1, body), signature("jefe", 1, body));
    }

    #[test]
    fn secrets_are_long_random_and_distinct() {
        let (one, two) = (new_secret(), new_secret());
        assert_ne!(one, two);
        assert!(one.starts_with("whsec_") && one.len() == 6 + 43, "{one}");
    }
}
