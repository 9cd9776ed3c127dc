//! tidings-handshake (under construction).
#![no_std]
