//! The WebDAV XML reader on arbitrary bytes: no panic, and the same tree or error whether the
//! body comes whole or in pieces (of a size taken from the input).
#![no_main]

use http_server::app::dav::xml::{parse, Reader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&knob, input)) = data.split_first() else {
        return;
    };
    let step = usize::from(knob) + 1;
    let mut r = Reader::new();
    let fed = input.chunks(step).try_for_each(|piece| r.feed(piece));
    assert_eq!(fed.and_then(|()| r.finish()), parse(input));
});
