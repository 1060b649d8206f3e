//! The request-head parser on arbitrary bytes: it must not panic, and feeding the bytes in
//! pieces (of a size taken from the input) must give the answer the whole input gives, never
//! asking for more while holding more than the head limit.
#![no_main]

use http_server::http::parse::{parse_head, Limits, ParseError, Parsed};
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits {
    max_head_bytes: 1024,
    max_request_line_bytes: 256,
    max_headers: 16,
};

fuzz_target!(|data: &[u8]| {
    let Some((&step, input)) = data.split_first() else {
        return;
    };
    let step = usize::from(step % 32) + 1;
    let whole = format!("{:?}", parse_head(input, &LIMITS, &mut 0));
    let mut scanned = 0;
    let mut end = 0;
    let mut answer = format!("{:?}", Ok::<Parsed, ParseError>(Parsed::Partial));
    while end < input.len() {
        end = (end + step).min(input.len());
        let r = parse_head(&input[..end], &LIMITS, &mut scanned);
        if matches!(r, Ok(Parsed::Partial)) {
            assert!(end <= LIMITS.max_head_bytes);
            continue;
        }
        answer = format!("{r:?}");
        break;
    }
    assert_eq!(answer, whole);
});
