//! Decode an RFC 9420 `Welcome`; a successful decode must re-encode to the same bytes.
#![no_main]

use canopy_engine::codec::Welcome;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    canopy_fuzz::round_trip::<Welcome>(data);
});
