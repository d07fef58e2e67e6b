//! Join the small deterministic live group (`canopy_fuzz::live`) from arbitrary bytes as its
//! Welcome, with the KeyPackage the genuine Welcome is for: `Group::join` must not panic.
#![no_main]

use canopy_engine::group::Group;
use canopy_fuzz::live::{config, live};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let l = live();
    let (kp, secrets) = &l.joiner;
    if let Ok(g) = Group::join(l.provider, data, kp, secrets, config(9)) {
        let _ = g.epoch_authenticator();
    }
});
