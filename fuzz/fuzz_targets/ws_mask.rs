//! Every masking kernel against the byte-loop oracle, at any length, offset and
//! alignment.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tidings_ws::MaskingKey;
use tidings_ws::mask::{apply_mask, apply_mask_inline, extend_masked, mask_bytewise};

fuzz_target!(|input: &[u8]| {
    let [k0, k1, k2, k3, offset, align, data @ ..] = input else {
        return;
    };
    let key = MaskingKey([*k0, *k1, *k2, *k3]);
    let (offset, align) = (
        usize::from(*offset),
        usize::from(*align % 16).min(data.len()),
    );
    let data = &data[align..];
    let mut fast = data.to_vec();
    let mut slow = data.to_vec();
    apply_mask(&mut fast, key, offset);
    mask_bytewise(&mut slow, key, offset);
    assert_eq!(fast, slow);
    let mut inline = data.to_vec();
    apply_mask_inline(&mut inline, key, offset);
    assert_eq!(inline, slow);
    let mut ext = BytesMut::new();
    extend_masked(&mut ext, data, key, offset);
    assert_eq!(&ext[..], &slow[..]);
});
