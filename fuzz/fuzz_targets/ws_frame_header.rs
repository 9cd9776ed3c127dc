//! The stateless header codec: no panic on any bytes, and decode/encode agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidings_ws::frame::FrameHeader;

fuzz_target!(|data: &[u8]| {
    let Ok(Some((header, len))) = FrameHeader::decode(data) else {
        return;
    };
    assert!((2..=14).contains(&len) && len <= data.len());
    // Decoding accepts only the minimal length form (§5.2), which is the one encoding
    // writes: re-encoding gives back exactly the bytes decoded.
    let mut out = Vec::new();
    header.encode(&mut out);
    assert_eq!(out.len(), header.encoded_len());
    assert_eq!(&out[..], &data[..len]);
    assert_eq!(FrameHeader::decode(&out), Ok(Some((header, out.len()))));
});
