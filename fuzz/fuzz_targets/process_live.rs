//! Feed arbitrary bytes to a live member of a small deterministic group
//! (`canopy_fuzz::live`): `Group::process` and `Group::unprotect_application` on fresh clones
//! of its state. Neither may panic; an input they reject must leave the state unchanged.
#![no_main]

use canopy_fuzz::live::{live, snapshot, RECEIVER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let l = live();
    let base = &l.members[RECEIVER];
    let before = snapshot(base);
    let mut g = base.clone();
    match g.process(data) {
        Ok(_) => {
            // Accepted: only a genuine commit can be; the state must still be usable.
            let _ = snapshot(&g);
        }
        Err(_) => assert!(snapshot(&g) == before, "rejected commit changed the state"),
    }
    let mut g = base.clone();
    if g.unprotect_application(data).is_err() {
        assert!(snapshot(&g) == before, "rejected message changed the state");
    }
});
