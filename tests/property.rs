//! Seeded, deterministic property tests of the request-head parser and the chunked decoder:
//! valid inputs are mutated (flip, insert, delete, duplicate, swap lines) and fed in random
//! pieces. Neither may panic; every split must give the same answer as the whole input; and
//! the parser may never ask for more once it holds more than the head limit.

use http_server::http::body::ChunkedDecoder;
use http_server::http::parse::{parse_head, Limits, ParseError, Parsed};

const LIMITS: Limits = Limits {
    max_head_bytes: 512,
    max_request_line_bytes: 128,
    max_headers: 8,
};

const ROUNDS: usize = 20_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const HEADS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: localhost:4221\r\n\r\n",
    b"GET /echo/abc HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n",
    b"POST /files/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
    b"PUT /files/y HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"HEAD /user-agent HTTP/1.0\nUser-Agent: a b c\n\n",
    b"\r\nGET http://h/x?y HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip;q=0.5, br\r\n\r\nGET / HTTP/1.1\r\n",
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(input.len());
        match rng.below(6) {
            0 if !input.is_empty() => input[at] ^= 1 << rng.below(8),
            1 => {
                let byte = *b"\r\n :\t\0aZ%\x7f\xff".get(rng.below(12)).unwrap_or(&b'x');
                input.insert(at, byte);
            }
            2 if !input.is_empty() => {
                input.remove(at);
            }
            3 => {
                let len = rng.below(input.len() - at + 1).min(64);
                let copy = input[at..at + len].to_vec();
                let to = rng.below(input.len() + 1);
                input.splice(to..to, copy);
            }
            4 => {
                // Swap two lines.
                let lines: Vec<Vec<u8>> =
                    input.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
                if lines.len() > 2 {
                    let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                    let mut lines = lines;
                    lines.swap(a, b);
                    *input = lines.join(&b'\n');
                }
            }
            _ => {
                // Grow a line past the limits now and then.
                let len = rng.below(700);
                input.splice(at..at, std::iter::repeat_n(b'a', len));
            }
        }
    }
}

#[test]
fn parser_gives_the_same_answer_for_every_split_and_stays_bounded() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for round in 0..ROUNDS {
        let mut input = HEADS[rng.below(HEADS.len())].to_vec();
        mutate(&mut rng, &mut input);
        let whole = format!("{:?}", parse_head(&input, &LIMITS, &mut 0));
        // Feed it as a connection would: growing buffer, resumed scan, stop at the first answer.
        let mut scanned = 0;
        let mut end = 0;
        let mut answer = None;
        while end < input.len() {
            end = (end + 1 + rng.below(40)).min(input.len());
            let r = parse_head(&input[..end], &LIMITS, &mut scanned);
            if matches!(r, Ok(Parsed::Partial)) {
                assert!(
                    end <= LIMITS.max_head_bytes,
                    "round {round}: partial at {end} bytes"
                );
                continue;
            }
            answer = Some(format!("{r:?}"));
            break;
        }
        let answer =
            answer.unwrap_or_else(|| format!("{:?}", Ok::<Parsed, ParseError>(Parsed::Partial)));
        assert_eq!(
            answer,
            whole,
            "round {round}: {:?}",
            String::from_utf8_lossy(&input)
        );
    }
}

const BODIES: &[&[u8]] = &[
    b"5\r\nhello\r\n0\r\n\r\n",
    b"3;a=b\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n",
    b"1\r\nx\r\n1\r\ny\r\n1\r\nz\r\n0\r\n\r\n",
];

/// Decodes `input` in pieces chosen by `rng`; returns the data and bytes used, or the error.
fn decode(input: &[u8], rng: &mut Rng) -> Result<(Vec<u8>, usize), String> {
    let mut d = ChunkedDecoder::new(64);
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < input.len() && !d.is_done() {
        let end = (pos + 1 + rng.below(8)).min(input.len());
        let r = d
            .decode(&input[pos..end], 1 + rng.below(8))
            .map_err(|e| e.message())?;
        out.extend_from_slice(&input[pos..end][r.data]);
        pos += r.consumed;
    }
    if d.is_done() {
        Ok((out, pos))
    } else {
        Err("incomplete".into())
    }
}

#[test]
fn chunked_decoder_gives_the_same_answer_for_every_split() {
    let mut rng = Rng(0xc0ff_ee00_1234_5678);
    for round in 0..ROUNDS {
        let mut input = BODIES[rng.below(BODIES.len())].to_vec();
        if round % 4 != 0 {
            mutate(&mut rng, &mut input);
        }
        let mut whole = ChunkedDecoder::new(64);
        let mut all = Vec::new();
        let mut used = 0;
        let whole_result = loop {
            match whole.decode(&input[used..], usize::MAX) {
                Err(e) => break Err(e.message()),
                Ok(r) => {
                    all.extend_from_slice(&input[used..][r.data.clone()]);
                    used += r.consumed;
                    if whole.is_done() {
                        break Ok((all, used));
                    }
                    if r.consumed == 0 || used == input.len() {
                        break Err("incomplete".into());
                    }
                }
            }
        };
        for _ in 0..4 {
            assert_eq!(
                decode(&input, &mut rng),
                whole_result,
                "round {round}: {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}

const XML_BODIES: &[&[u8]] = &[
    br#"<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:displayname/></D:prop></D:propfind>"#,
    br#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:a q='1'>x &amp; y<![CDATA[<>]]></Z:a></D:prop></D:set><D:remove><D:prop><Z:b/></D:prop></D:remove></D:propertyupdate>"#,
    br#"<?xml version="1.0"?><D:lockinfo xmlns:D='DAV:'><!-- c --><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>http://example.com/~me</D:href></D:owner></D:lockinfo>"#,
];

#[test]
fn xml_reader_gives_the_same_answer_for_every_split() {
    use http_server::app::dav::xml::{parse, Reader};
    let mut rng = Rng(0x5eed_0f00_d00d_beef);
    for round in 0..ROUNDS {
        let mut input = XML_BODIES[rng.below(XML_BODIES.len())].to_vec();
        if round % 4 != 0 {
            mutate(&mut rng, &mut input);
        }
        let whole = parse(&input);
        for _ in 0..4 {
            let mut r = Reader::new();
            let mut pos = 0;
            let mut fed = Ok(());
            while pos < input.len() && fed.is_ok() {
                let end = (pos + 1 + rng.below(16)).min(input.len());
                fed = r.feed(&input[pos..end]);
                pos = end;
            }
            let got = fed.and_then(|()| r.finish());
            assert_eq!(
                got,
                whole,
                "round {round}: {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}
