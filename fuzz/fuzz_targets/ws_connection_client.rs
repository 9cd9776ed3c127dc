//! A client `Connection` fed arbitrary bytes in arbitrary chunks: no panic, bounded
//! work, and the same events as a one-chunk feed.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "ws_common.rs"]
mod ws_common;

fuzz_target!(|data: &[u8]| ws_common::run(tidings_ws::Role::Client, data));
