//! Proactive negotiation on `Accept` (RFC 9110 §12.5.1): which of the media types a resource
//! offers the client prefers, by q-value, taking for each offer the most specific range that
//! matches it (`type/subtype` over `type/*` over `*/*`).
//!
//! Out of scope: Accept-Encoding (`encoding.rs`), and what each type looks like (`render.rs`).

use crate::app::negotiate::encoding::{parse_qvalue, split_param};
use crate::http::Headers;

/// The index of the offer the client prefers: the highest q-value above 0, and on a tie the
/// earliest offer (the server's preference). Without `Accept` every offer is acceptable, so the
/// first wins. `None` when the client accepts none of them.
pub fn preferred(headers: &Headers, offers: &[&str]) -> Option<usize> {
    if headers.get("accept").is_none() {
        return (!offers.is_empty()).then_some(0);
    }
    let mut best: Option<(usize, u32)> = None;
    for (i, offer) in offers.iter().enumerate() {
        let q = quality(headers, offer);
        if q > 0 && best.is_none_or(|(_, top)| q > top) {
            best = Some((i, q));
        }
    }
    best.map(|(i, _)| i)
}

/// The q-value (in thousandths) that `Accept` gives `offer` (`type/subtype`).
fn quality(headers: &Headers, offer: &str) -> u32 {
    let Some((offer_type, offer_sub)) = offer.split_once('/') else {
        return 0;
    };
    let (mut specificity, mut q) = (0, 0);
    for element in headers.list("accept") {
        let mut parts = element.split(|&b| b == b';');
        let range = parts.next().unwrap_or_default().trim_ascii();
        let Some(slash) = range.iter().position(|&b| b == b'/') else {
            continue;
        };
        let (ty, sub) = (
            range.get(..slash).unwrap_or_default(),
            range.get(slash + 1..).unwrap_or_default(),
        );
        let this = if ty == b"*" && sub == b"*" {
            1
        } else if ty.eq_ignore_ascii_case(offer_type.as_bytes()) && sub == b"*" {
            2
        } else if ty.eq_ignore_ascii_case(offer_type.as_bytes())
            && sub.eq_ignore_ascii_case(offer_sub.as_bytes())
        {
            3
        } else {
            continue;
        };
        let weight = parts
            .filter_map(|p| {
                let (name, value) = split_param(p)?;
                name.eq_ignore_ascii_case(b"q").then_some(value)
            })
            .next()
            .map_or(Some(1000), parse_qvalue);
        // An invalid q-value makes the element meaningless; a more specific range wins.
        if let Some(weight) = weight {
            if this > specificity {
                (specificity, q) = (this, weight);
            }
        }
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse::parse_for_test;

    fn pick(accept: Option<&str>, offers: &[&str]) -> Option<usize> {
        let line = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
        let head = parse_for_test(&format!("GET / HTTP/1.1\r\n{line}\r\n"));
        preferred(&head.headers, offers)
    }

    #[test]
    fn picks_the_preferred_offer() {
        const LISTING: &[&str] = &["text/plain", "text/html", "application/json"];
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        let cases: &[(Option<&str>, Option<usize>)] = &[
            (None, Some(0)),
            (Some("*/*"), Some(0)),
            (Some(browser), Some(1)),
            (Some("application/json"), Some(2)),
            (Some("application/json, */*;q=0.1"), Some(2)),
            (Some("text/*"), Some(0)),
            (Some("text/html;q=0.5, text/plain;q=0.4"), Some(1)),
            (Some("TEXT/HTML"), Some(1)),
            (Some("text/*;q=0.3, text/html"), Some(1)),
            (Some("text/html;q=0, */*"), Some(0)),
            (Some("*/*;q=0"), None),
            (Some("image/png"), None),
            (Some(""), None),
            (Some("text/html;q=2, application/json"), Some(2)),
            (Some("nonsense, application/json;q=0.5"), Some(2)),
        ];
        for (accept, want) in cases {
            assert_eq!(pick(*accept, LISTING), *want, "{accept:?}");
        }
    }
}
