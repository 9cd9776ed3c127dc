//! tidings-sse (under construction).
#![no_std]
