use super::*;
use crate::http::parse::parse_for_test as head;

#[test]
fn decides_framing_from_headers() {
    let cases: &[(&str, Result<Framing, u16>)] = &[
        ("GET / HTTP/1.1\r\n\r\n", Ok(Framing::None)),
        (
            "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            Ok(Framing::None),
        ),
        (
            "POST / HTTP/1.1\r\nContent-Length: 42\r\n\r\n",
            Ok(Framing::Length(42)),
        ),
        (
            "POST / HTTP/1.1\r\nContent-Length: 7, 7\r\nContent-Length: 7\r\n\r\n",
            Ok(Framing::Length(7)),
        ),
        (
            "POST / HTTP/1.1\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n",
            Err(400),
        ),
        ("POST / HTTP/1.1\r\nContent-Length: +7\r\n\r\n", Err(400)),
        ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", Err(400)),
        ("POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", Err(400)),
        ("POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", Err(400)),
        (
            "POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n",
            Err(400),
        ),
        (
            "POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n",
            Ok(Framing::Length(u64::MAX)),
        ),
        ("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", Err(400)),
        (
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            Ok(Framing::Chunked),
        ),
        (
            "POST / HTTP/1.1\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
            Ok(Framing::Chunked),
        ),
        (
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            Err(400),
        ),
        (
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            Err(501),
        ),
        (
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            Err(501),
        ),
        (
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            Err(400),
        ),
        (
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            Err(400),
        ),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: ,\r\n\r\n", Err(400)),
        (
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            Err(400),
        ),
    ];
    for (raw, want) in cases {
        let got = framing(&head(raw)).map_err(|e| e.status().0);
        assert_eq!(&got, want, "{raw:?}");
    }
}

/// Decodes `input` fed in pieces of `step` bytes; returns the data or the error's message.
fn decode_in_steps(input: &[u8], step: usize) -> Result<(Vec<u8>, usize), String> {
    let mut d = ChunkedDecoder::new(64);
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < input.len() && !d.is_done() {
        let end = (pos + step).min(input.len());
        let piece = &input[pos..end];
        let mut used = 0;
        while used < piece.len() && !d.is_done() {
            let r = d.decode(&piece[used..], 3).map_err(|e| e.message())?;
            out.extend_from_slice(&piece[used..][r.data]);
            if r.consumed == 0 {
                break;
            }
            used += r.consumed;
        }
        pos += used;
    }
    if !d.is_done() {
        return Err("incomplete".into());
    }
    Ok((out, pos))
}

/// (name, input, decoded data or error message).
type ChunkCase = (
    &'static str,
    &'static [u8],
    Result<&'static [u8], &'static str>,
);

#[test]
fn decodes_chunked_bodies_split_anywhere() {
    let cases: &[ChunkCase] = &[
        ("one chunk", b"5\r\nhello\r\n0\r\n\r\n", Ok(b"hello")),
        ("two chunks", b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", Ok(b"abcde")),
        ("hex upper and lower", b"A\r\n0123456789\r\nb\r\n0123456789a\r\n0\r\n\r\n", Ok(b"01234567890123456789a")),
        ("extensions ignored", b"3;name=value;x\r\nabc\r\n0;last\r\n\r\n", Ok(b"abc")),
        ("trailers discarded", b"3\r\nabc\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n", Ok(b"abc")),
        ("leading zeros", b"0003\r\nabc\r\n000\r\n\r\n", Ok(b"abc")),
        ("empty body", b"0\r\n\r\n", Ok(b"")),
        ("no digits", b"\r\nabc\r\n0\r\n\r\n", Err("bad chunked body: missing chunk size")),
        ("bad digit", b"3x\r\nabc\r\n0\r\n\r\n", Err("bad chunked body: invalid chunk size")),
        ("negative", b"-3\r\nabc\r\n0\r\n\r\n", Err("bad chunked body: missing chunk size")),
        ("17 digits", b"00000000000000003\r\nabc\r\n0\r\n\r\n", Err("bad chunked body: chunk size has too many digits")),
        ("data too long", b"3\r\nabcd\r\n0\r\n\r\n", Err("bad chunked body: chunk data not followed by CRLF")),
        ("bare LF after size", b"3\nabc\r\n0\r\n\r\n", Err("bad chunked body: invalid chunk size")),
        ("bare LF after data", b"3\r\nabc\n0\r\n\r\n", Err("bad chunked body: chunk data not followed by CRLF")),
        ("missing final CRLF", b"3\r\nabc\r\n0\r\nX", Err("incomplete")),
        ("huge trailers", b"0\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n", Err("request header fields too large")),
    ];
    for (name, input, want) in cases {
        for step in 1..=input.len() {
            let got = decode_in_steps(input, step);
            match want {
                Ok(data) => {
                    assert_eq!(got, Ok((data.to_vec(), input.len())), "{name} step {step}")
                }
                Err(msg) => assert_eq!(got.map(|_| ()), Err(msg.to_string()), "{name} step {step}"),
            }
        }
    }
}

#[test]
fn stops_at_the_end_of_the_body_and_leaves_the_rest() {
    let mut d = ChunkedDecoder::new(64);
    let input = b"1\r\nx\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    let r = d.decode(input, 100).unwrap();
    assert_eq!(&input[r.data.clone()], b"x");
    let r2 = d.decode(&input[r.consumed..], 100).unwrap();
    assert!(d.is_done());
    assert_eq!(&input[r.consumed + r2.consumed..], b"GET / HTTP/1.1\r\n");
}

#[test]
fn the_largest_chunk_size_does_not_overflow() {
    let mut d = ChunkedDecoder::new(64);
    let r = d.decode(b"ffffffffffffffff\r\nab", 100).unwrap();
    assert_eq!(r.data.len(), 2);
}

/// Feeds `input` to a decoder in pieces of `step` bytes, as a socket might deliver it; returns
/// the data and how many input bytes belonged to the body.
fn feed_in_steps(
    framing: Framing,
    limit: u64,
    input: &[u8],
    step: usize,
) -> Result<(Vec<u8>, usize), Error> {
    let mut d = BodyDecoder::new(framing, 64);
    d.set_limit(limit);
    let mut data = Vec::new();
    let mut pos = 0;
    while pos < input.len() && !d.is_finished() {
        let end = (pos + d.wants(step)).min(input.len());
        let piece = &input[pos..end];
        let used = d.feed(piece, &mut |data_piece| {
            data.extend_from_slice(data_piece);
            Ok(())
        })?;
        pos += used;
        if used < piece.len() {
            break;
        }
    }
    Ok((data, pos))
}

#[test]
fn takes_a_length_body_in_any_pieces_and_no_further() {
    for step in [1, 2, 5, 100] {
        let (data, used) =
            feed_in_steps(Framing::Length(11), u64::MAX, b"hello worldNEXT", step).unwrap();
        assert_eq!(data, b"hello world", "step {step}");
        assert_eq!(used, 11, "step {step}: went past the body");
    }
    let d = BodyDecoder::new(Framing::Length(11), 64);
    assert_eq!(
        d.wants(4096),
        11,
        "never asks the socket for more than the body"
    );
}

#[test]
fn takes_a_chunked_body_and_leaves_the_next_request() {
    let input = b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\nGET /";
    for step in [1, 3, 100] {
        let (data, used) = feed_in_steps(Framing::Chunked, u64::MAX, input, step).unwrap();
        assert_eq!(data, b"Wikipedia", "step {step}");
        assert_eq!(&input[used..], b"GET /", "step {step}");
    }
}

#[test]
fn a_body_not_yet_complete_is_not_finished() {
    let mut d = BodyDecoder::new(Framing::Length(5), 64);
    d.feed(b"abc", &mut |_| Ok(())).unwrap();
    assert!(!d.is_finished());
    assert_eq!(d.received(), 3);
    assert_eq!(d.wants(100), 2);
}

#[test]
fn enforces_the_limit_on_both_framings() {
    let mut taken = 0;
    let mut d = BodyDecoder::new(Framing::Length(6), 64);
    d.set_limit(5);
    let e = d.feed(b"abcdef", &mut |p| {
        taken += p.len();
        Ok(())
    });
    assert!(matches!(e, Err(Error::BodyTooLarge)));
    assert_eq!(
        taken, 0,
        "a declared length over the limit is refused before any byte"
    );

    for step in [1, 4, 100] {
        let e = feed_in_steps(
            Framing::Chunked,
            5,
            b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
            step,
        );
        assert!(matches!(e, Err(Error::BodyTooLarge)), "step {step}");
    }
}

#[test]
fn the_sinks_error_stops_the_feed() {
    let mut d = BodyDecoder::new(Framing::Length(6), 64);
    let e = d.feed(b"abcdef", &mut |_| Err(Error::InsufficientStorage));
    assert!(matches!(e, Err(Error::InsufficientStorage)));
}
