//! Decode an RFC 9420 `GroupSecrets`; a successful decode must re-encode to the same bytes.
#![no_main]

use canopy_engine::codec::GroupSecrets;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    canopy_fuzz::round_trip::<GroupSecrets>(data);
});
