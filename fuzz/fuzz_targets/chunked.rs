//! The chunked decoder on arbitrary bytes: no panic, and the same data or error whether the
//! input comes whole or in pieces (with a piece size and an output size taken from the input).
#![no_main]

use http_server::http::body::ChunkedDecoder;
use libfuzzer_sys::fuzz_target;

fn decode(input: &[u8], step: usize, max_out: usize) -> Result<(Vec<u8>, usize), String> {
    let mut d = ChunkedDecoder::new(256);
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < input.len() && !d.is_done() {
        let end = (pos + step).min(input.len());
        let r = d
            .decode(&input[pos..end], max_out)
            .map_err(|e| e.message())?;
        out.extend_from_slice(&input[pos..end][r.data]);
        if r.consumed == 0 && end == input.len() {
            break;
        }
        pos += r.consumed;
    }
    if d.is_done() {
        Ok((out, pos))
    } else {
        Err("incomplete".into())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, input)) = data.split_first() else {
        return;
    };
    let step = usize::from(knobs & 0x0f) + 1;
    let max_out = usize::from(knobs >> 4) + 1;
    assert_eq!(
        decode(input, step, max_out),
        decode(input, input.len().max(1), usize::MAX)
    );
});
