//! The client's response parser: no panic on any bytes, and the result does
//! not depend on how the bytes are split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidings_handshake::{ClientBuilder, ClientHandshake, Extension, Response, Status};

/// A client offering two subprotocols and permessage-deflate, with the
/// RFC 6455 §1.3 sample key (so `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=` is accepted).
fn client() -> ClientHandshake {
    ClientBuilder::new("ws://server.example.com/chat")
        .and_then(|b| b.protocol("chat"))
        .and_then(|b| b.protocol("superchat"))
        .expect("valid options")
        .extension(Extension::new("permessage-deflate").expect("a token"))
        .send_request_with(
            &mut |k: &mut [u8]| k.copy_from_slice(b"the sample nonce"),
            &mut Vec::new(),
        )
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(input.len());

    let whole = client().parse(input);
    let mut split_client = client();
    let split = match split_client.parse(&input[..cut]) {
        Ok(Status::Partial) => split_client.parse(&input[cut..]).map(|s| match s {
            Status::Complete((head, consumed)) => Status::Complete((head, cut + consumed)),
            Status::Partial => Status::Partial,
        }),
        other => other,
    };
    assert_eq!(whole, split);

    if let Ok(Status::Complete((head, consumed))) = whole {
        assert!(consumed <= input.len());
        match head {
            Response::Accepted(a) => {
                assert!(matches!(a.protocol(), None | Some("chat" | "superchat")));
                assert!(
                    a.extensions()
                        .iter()
                        .all(|e| e.name() == "permessage-deflate")
                );
            }
            Response::Rejected(r) => {
                assert_ne!(r.status(), 101);
                let _ = (r.reason(), r.location());
            }
        }
    }
});
