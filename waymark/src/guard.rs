//! What `waymark serve` does to every request before any route sees it:
//!
//! - **Forwarded headers only from trusted proxies.** `Forwarded`, `X-Forwarded-For`,
//!   `X-Forwarded-Host`, `X-Forwarded-Proto` and `X-Real-IP` are dropped unless the peer is
//!   one of `[http] trusted_proxies`, so no client chooses the host name a publicly cached
//!   document (`/tiles.json`, `/style.json`) names or the address it is rate-limited by.
//! - **Every body within a deadline and a size.** The body is read here, whole, before the
//!   route runs: a client trickling bytes is answered `408 upload-too-slow` when
//!   `[http] body_deadline_secs` pass, a body over [`MAX_BODY_BYTES`] (the largest any route
//!   takes: a capture manifest) `413 body-too-large` — on every route, whether or not its
//!   handler reads a body, and before anything is kept.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};
use futures::StreamExt;
use model::Problem;

/// The largest body any route reads: a signed capture manifest (frames are 2 MB at most).
pub const MAX_BODY_BYTES: usize = model::MAX_MANIFEST_BYTES;

/// Headers that claim something about the client or the URL it used, believed only from a
/// trusted proxy.
const FORWARDED_HEADERS: [&str; 5] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
];

/// The guard's settings, in the app data.
#[derive(Debug, Clone)]
pub struct Guard {
    pub trusted_proxies: Vec<AddressBlock>,
    pub body_deadline: Duration,
}

/// An IP address block: `10.0.0.0/8`, `fd00::/8`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressBlock {
    network: IpAddr,
    prefix: u8,
}

impl AddressBlock {
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for AddressBlock {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{text:?} is not an IP address or a CIDR block such as 10.0.0.0/8");
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().map_err(|_| bad())?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(bad)?,
            None => bits,
        };
        Ok(Self { network, prefix })
    }
}

/// The middleware (`from_fn(guard)`, with a [`Guard`] in the app data): see the module docs.
pub async fn guard(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, Error> {
    let Some(settings) = request.app_data::<web::Data<Guard>>().cloned() else {
        return Ok(next
            .call(request)
            .await?
            .map_into_boxed_body()
            .map_into_left_body());
    };
    let peer = request.peer_addr().map(|addr| addr.ip());
    let trusted =
        peer.is_some_and(|peer| settings.trusted_proxies.iter().any(|b| b.contains(peer)));
    if !trusted {
        let headers = request.headers_mut();
        for name in FORWARDED_HEADERS {
            headers.remove(HeaderName::from_static(name));
        }
    }
    match read_body(&mut request, settings.body_deadline).await {
        Ok(body) => {
            request.set_payload(Payload::from(body));
            Ok(next
                .call(request)
                .await?
                .map_into_boxed_body()
                .map_into_left_body())
        }
        Err(problem) => {
            let response = problem_response(&problem);
            Ok(request.into_response(response).map_into_right_body())
        }
    }
}

/// The whole body, or the problem that stopped reading it.
async fn read_body(
    request: &mut ServiceRequest,
    deadline: Duration,
) -> Result<web::Bytes, Problem> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large(declared.unwrap_or_default()));
    }
    let mut payload = request.take_payload();
    let mut body = web::BytesMut::new();
    let until = tokio::time::Instant::now() + deadline;
    loop {
        let next = tokio::time::timeout_at(until, payload.next()).await.map_err(|_| {
            Problem::new(
                StatusCode::REQUEST_TIMEOUT.as_u16(),
                "upload-too-slow",
                "Upload too slow",
                format!(
                    "the request body did not arrive within {} s ({} bytes came); send it again on a better link",
                    deadline.as_secs(),
                    body.len()
                ),
            )
        })?;
        let Some(chunk) = next else {
            return Ok(body.freeze());
        };
        let chunk = chunk.map_err(|err| {
            Problem::new(
                StatusCode::BAD_REQUEST.as_u16(),
                "invalid-request",
                "Invalid request",
                format!("the request body broke off: {err}"),
            )
        })?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large((body.len() + chunk.len()) as u64));
        }
        body.extend_from_slice(&chunk);
    }
}

fn too_large(bytes: u64) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE.as_u16(),
        "body-too-large",
        "Body too large",
        format!(
            "the request body is at least {bytes} bytes; no route takes more than {MAX_BODY_BYTES}"
        ),
    )
}

/// A problem+json response; a `408` also closes the connection.
pub fn problem_response(problem: &Problem) -> HttpResponse {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
    if status == StatusCode::REQUEST_TIMEOUT {
        response.force_close();
    }
    response.json(problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_blocks_contain_what_they_say() {
        let block: AddressBlock = "10.0.0.0/8".parse().unwrap();
        assert!(block.contains("10.200.3.4".parse().unwrap()));
        assert!(!block.contains("11.0.0.1".parse().unwrap()));
        assert!(
            block.contains("::ffff:10.1.2.3".parse().unwrap()),
            "IPv4-mapped"
        );
        let one: AddressBlock = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let v6: AddressBlock = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        let everything: AddressBlock = "0.0.0.0/0".parse().unwrap();
        assert!(everything.contains("203.0.113.9".parse().unwrap()));
        for bad in ["10.0.0.0/33", "localhost", "10.0.0/8", "::/129", ""] {
            assert!(bad.parse::<AddressBlock>().is_err(), "{bad}");
        }
    }
}
