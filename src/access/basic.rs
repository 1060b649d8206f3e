//! HTTP Basic credentials (RFC 7617): the `Authorization` value `Basic base64(user:password)`.
//!
//! Out of scope: whether they are right (`users`).

use crate::access::crypto::base64;

/// Longest `Authorization` value looked at; a longer one is malformed (no real user name and
/// password need a kilobyte, and decoding is then bounded).
pub const MAX_AUTHORIZATION_BYTES: usize = 1024;

/// A user name and password, as sent (bytes: RFC 7617 says UTF-8, and they are compared as
/// bytes).
#[derive(Debug, PartialEq, Eq)]
pub struct Credentials {
    pub user: Vec<u8>,
    pub password: Vec<u8>,
}

/// Reads a Basic `Authorization` value.
///
/// # Errors
/// Why it is not Basic credentials, for the 401's body.
pub fn parse_authorization(value: &[u8]) -> Result<Credentials, &'static str> {
    if value.len() > MAX_AUTHORIZATION_BYTES {
        return Err("the Authorization header is too long");
    }
    let value = value.trim_ascii();
    let split = value
        .iter()
        .position(|&b| b == b' ')
        .ok_or("the Authorization header is not Basic credentials")?;
    let (scheme, rest) = value.split_at(split);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return Err("only Basic credentials are accepted");
    }
    let token = rest.trim_ascii();
    let decoded = base64::decode(token).ok_or("the Basic credentials are not base64")?;
    let colon = decoded
        .iter()
        .position(|&b| b == b':')
        .ok_or("the Basic credentials have no ':' between user and password")?;
    let (user, password) = decoded.split_at(colon);
    if user.is_empty() {
        return Err("the Basic credentials have no user name");
    }
    Ok(Credentials {
        user: user.to_vec(),
        password: password.get(1..).unwrap_or_default().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::users::{MAX_PASSWORD_BYTES, MAX_USER_NAME_BYTES};

    #[test]
    fn the_longest_user_and_password_fit_the_header() {
        let pair = format!(
            "{}:{}",
            "u".repeat(MAX_USER_NAME_BYTES),
            "p".repeat(MAX_PASSWORD_BYTES)
        );
        assert!(parse_authorization(basic(&pair).as_bytes()).is_ok());
    }

    fn basic(user_pass: &str) -> String {
        format!("Basic {}", base64::encode(user_pass.as_bytes()))
    }

    #[test]
    fn reads_basic_credentials() {
        let ok: &[(&str, &str, &str)] = &[
            ("alice:secret", "alice", "secret"),
            ("alice:", "alice", ""),
            ("alice:pa:ss", "alice", "pa:ss"),
            ("j\u{f6}rg:p\u{e4}ss", "j\u{f6}rg", "p\u{e4}ss"),
        ];
        for (pair, user, password) in ok {
            let c = parse_authorization(basic(pair).as_bytes()).unwrap();
            assert_eq!(
                (c.user.as_slice(), c.password.as_slice()),
                (user.as_bytes(), password.as_bytes())
            );
        }
        // RFC 7617 §2's example, scheme in any case.
        let c = parse_authorization(b"bAsIc  QWxhZGRpbjpvcGVuIHNlc2FtZQ==").unwrap();
        assert_eq!(c.user, b"Aladdin");
        assert_eq!(c.password, b"open sesame");
    }

    #[test]
    fn refuses_what_is_not_basic_credentials() {
        let long = format!("Basic {}", "A".repeat(10 * 1024));
        let cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"Basic".to_vec(),
            b"Bearer abc.def".to_vec(),
            b"Basic !!!notbase64".to_vec(),
            b"Basic YWxpY2U=".to_vec(),     // "alice": no colon
            b"Basic OnNlY3JldA==".to_vec(), // ":secret": no user
            long.into_bytes(),
        ];
        for v in cases {
            assert!(
                parse_authorization(&v).is_err(),
                "{}",
                String::from_utf8_lossy(&v)
            );
        }
    }
}
