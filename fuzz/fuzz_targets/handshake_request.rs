//! The server's request parser: no panic on any bytes, the result does not
//! depend on how the bytes are split, and whatever it accepts can be answered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidings_handshake::{Rejection, Request, RequestParser, Status};

fuzz_target!(|data: &[u8]| {
    // The first byte chooses where to cut the rest in two.
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(input.len());

    let whole = RequestParser::new().parse(input);
    let mut parser = RequestParser::new();
    let split = match parser.parse(&input[..cut]) {
        Ok(Status::Partial) => parser.parse(&input[cut..]).map(|s| match s {
            Status::Complete((head, consumed)) => Status::Complete((head, cut + consumed)),
            Status::Partial => Status::Partial,
        }),
        other => other,
    };
    assert_eq!(whole, split);

    let mut out = Vec::new();
    match whole {
        Ok(Status::Complete((Request::Upgrade(req), consumed))) => {
            assert!(consumed <= input.len());
            let mut accept = req.accept();
            if let Some(p) = req.protocols().next() {
                accept = accept.protocol(p).expect("an offered protocol is accepted");
            }
            if let Some(e) = req.extensions().first() {
                accept = accept
                    .extension(e.clone())
                    .expect("an offered extension is accepted");
            }
            accept.encode(&mut out);
            assert!(out.ends_with(b"\r\n\r\n"));
        }
        Ok(Status::Complete((Request::Plain(req), consumed))) => {
            assert!(consumed <= input.len());
            let _ = (
                req.method(),
                req.path(),
                req.query(),
                req.headers().iter().count(),
            );
        }
        Ok(Status::Partial) => {}
        Err(e) => {
            assert!(matches!(e.status(), 400 | 405 | 426 | 431));
            Rejection::from_error(&e).encode(&mut out);
        }
    }
});
