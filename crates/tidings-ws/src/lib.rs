//! tidings-ws (under construction).
#![no_std]
