//! The stateless header codec: no panic on any bytes, and decode/encode agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidings_ws::frame::{FrameHeader, Status};

fuzz_target!(|data: &[u8]| {
    let Ok(Status::Complete((header, len))) = FrameHeader::decode(data) else {
        return;
    };
    assert!((2..=14).contains(&len) && len <= data.len());
    // Re-encoding uses the minimal length form, so it may be shorter than the input,
    // but it must decode to the same header.
    let mut out = Vec::new();
    header.encode(&mut out);
    assert_eq!(out.len(), header.encoded_len());
    assert!(out.len() <= len);
    assert_eq!(
        FrameHeader::decode(&out),
        Ok(Status::Complete((header, out.len())))
    );
    if out.len() == len {
        assert_eq!(&out[..], &data[..len]);
    }
});
