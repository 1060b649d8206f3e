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

/// A socket stand-in: reads come from `input` in pieces of `step`, writes collect in `output`.
struct Mock {
    input: Vec<u8>,
    pos: usize,
    step: usize,
    output: Vec<u8>,
}

impl Read for Mock {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(out.len()).min(self.input.len() - self.pos);
        out[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Mock {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn mock(input: &[u8], step: usize) -> Mock {
    Mock {
        input: input.to_vec(),
        pos: 0,
        step,
        output: Vec::new(),
    }
}

#[test]
fn reads_a_length_body_from_buffer_then_socket_and_no_further() {
    for step in [1, 2, 5, 100] {
        let mut buf = ReadBuf::new();
        buf.fill(&mut &b"hel"[..], 100).unwrap();
        let mut s = mock(b"lo worldNEXT", step);
        let mut r = BodyReader::new(&mut buf, &mut s, Framing::Length(11), false, 64, 64);
        let mut body = Vec::new();
        r.read_to_end(&mut body).unwrap();
        assert_eq!(body, b"hello world");
        assert!(r.is_finished());
        assert_eq!(s.pos, 8, "read past the body");
    }
}

#[test]
fn reads_a_chunked_body_and_leaves_the_next_request_buffered() {
    for step in [1, 3, 100] {
        let mut buf = ReadBuf::new();
        let mut s = mock(b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\nGET /", step);
        let mut body = Vec::new();
        {
            let mut r = BodyReader::new(&mut buf, &mut s, Framing::Chunked, false, 64, 64);
            r.read_to_end(&mut body).unwrap();
        }
        assert_eq!(body, b"Wikipedia");
        let mut rest = buf.filled().to_vec();
        rest.extend_from_slice(&s.input[s.pos..]);
        assert_eq!(rest, b"GET /");
    }
}

#[test]
fn a_short_body_is_an_unexpected_eof() {
    let mut buf = ReadBuf::new();
    let mut s = mock(b"abc", 10);
    let mut r = BodyReader::new(&mut buf, &mut s, Framing::Length(5), false, 64, 64);
    let e = r.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    assert!(!r.discard_rest(1000));
}

#[test]
fn enforces_the_limit_on_both_framings() {
    let mut buf = ReadBuf::new();
    let mut s = mock(b"abcdef", 10);
    let mut r = BodyReader::new(&mut buf, &mut s, Framing::Length(6), false, 64, 64);
    r.set_limit(5);
    let e = r.read_to_end(&mut Vec::new()).unwrap_err();
    assert!(matches!(Error::from_body_io(e), Error::BodyTooLarge));
    assert_eq!(
        s.pos, 0,
        "a declared length over the limit is refused before reading"
    );

    let mut buf = ReadBuf::new();
    let mut s = mock(b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", 10);
    let mut r = BodyReader::new(&mut buf, &mut s, Framing::Chunked, false, 64, 64);
    r.set_limit(5);
    let e = r.read_to_end(&mut Vec::new()).unwrap_err();
    assert!(matches!(Error::from_body_io(e), Error::BodyTooLarge));
}

#[test]
fn sends_100_continue_only_when_the_body_is_read() {
    let mut buf = ReadBuf::new();
    let mut s = mock(b"abc", 10);
    {
        let r = BodyReader::new(&mut buf, &mut s, Framing::Length(3), true, 64, 64);
        assert!(r.is_continue_pending());
    }
    assert!(s.output.is_empty());
    let mut r = BodyReader::new(&mut buf, &mut s, Framing::Length(3), true, 64, 64);
    let mut body = Vec::new();
    r.read_to_end(&mut body).unwrap();
    assert_eq!(body, b"abc");
    assert_eq!(s.output, b"HTTP/1.1 100 Continue\r\n\r\n");
}

#[test]
fn discards_small_rests_and_refuses_large_ones() {
    let mut buf = ReadBuf::new();
    let mut s = mock(b"0123456789", 3);
    let mut r = BodyReader::new(&mut buf, &mut s, Framing::Length(10), false, 64, 64);
    assert!(r.discard_rest(10));
    let mut buf = ReadBuf::new();
    let mut s = mock(b"0123456789", 3);
    let mut r = BodyReader::new(&mut buf, &mut s, Framing::Length(10), false, 64, 64);
    assert!(!r.discard_rest(9));
    let mut buf = ReadBuf::new();
    let mut s = mock(b"a\r\n0123456789\r\n0\r\n\r\n", 3);
    let mut r = BodyReader::new(&mut buf, &mut s, Framing::Chunked, false, 64, 64);
    assert!(!r.discard_rest(9));
    let mut buf = ReadBuf::new();
    let mut s = mock(b"abc", 3);
    let mut r = BodyReader::new(&mut buf, &mut s, Framing::Length(3), true, 64, 64);
    assert!(
        !r.discard_rest(100),
        "a body never invited cannot be skipped"
    );
}
