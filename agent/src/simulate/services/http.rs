//! HTTP/1.1 requests and response heads, sized like a browser's.

use rand::RngExt as _;

use crate::simulate::rng::SimRng;

const PATHS: [&str; 8] = [
    "/",
    "/index.html",
    "/assets/app.js",
    "/static/style.css",
    "/img/logo.png",
    "/api/v1/items",
    "/news/today",
    "/search?q=weather",
];
const USER_AGENTS: [&str; 3] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
];

/// Letters and digits for cookie and query values.
fn token(rng: &mut SimRng, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect()
}

/// A request of about `size` bytes: a GET whose cookie fills it up, or a
/// POST head announcing `body` bytes that follow it.
pub fn request(host: &str, size: u64, body: u64, rng: &mut SimRng) -> Vec<u8> {
    let path = PATHS[rng.random_range(0..PATHS.len())];
    let agent = USER_AGENTS[rng.random_range(0..USER_AGENTS.len())];
    let mut head = if body > 0 {
        format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\nContent-Type: application/octet-stream\r\nContent-Length: {body}\r\n"
        )
    } else {
        format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\n"
        )
    };
    head.push_str("Accept-Language: en-GB,en;q=0.9\r\nConnection: keep-alive\r\n");
    // "Cookie: " + value + "\r\n\r\n" is 12 bytes.
    let cookie = (size as usize).saturating_sub(head.len() + 12).max(8);
    head.push_str(&format!("Cookie: sid={}\r\n\r\n", token(rng, cookie - 4)));
    head.into_bytes()
}

/// The head of a `200 OK` response with a `body`-byte body.
pub fn response_head(body: u64, content_type: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Tue, 05 Mar 2024 09:00:00 GMT\r\nContent-Type: {content_type}\r\nContent-Length: {body}\r\nConnection: keep-alive\r\nCache-Control: max-age=600\r\n\r\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::rng::{Stream, stream};

    #[test]
    fn requests_have_the_asked_size_and_end_the_head() -> Result<(), std::str::Utf8Error> {
        let mut rng = stream(1, Stream::Population);
        let get = request("www.example.com", 600, 0, &mut rng);
        assert_eq!(get.len(), 600);
        let text = std::str::from_utf8(&get)?;
        assert!(text.starts_with("GET /") && text.ends_with("\r\n\r\n") && text.contains("Host: www.example.com\r\n"));
        let post = request("api.example.net", 100, 5000, &mut rng);
        assert!(std::str::from_utf8(&post)?.contains("Content-Length: 5000\r\n"));
        assert!(std::str::from_utf8(&response_head(42, "text/html"))?.contains("Content-Length: 42\r\n"));
        Ok(())
    }
}
