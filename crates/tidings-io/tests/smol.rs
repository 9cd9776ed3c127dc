//! The shared suite on smol (futures-io + async-io).
#![cfg(feature = "futures-io")]

mod common;
use common::{Rt, SmolRt};

suite!(SmolRt);
