//! Wycheproof's X25519 vectors (`tests/data/x25519_test.json`, provenance in
//! `tests/data/README.md`) through every backend and every lane position: each case is placed in
//! lane i of a full register of random other inputs, for every i, and once more in the padded
//! tail of a longer batch. The other lanes are checked too (against the portable reference), so
//! a case cannot disturb its neighbours unnoticed.

mod common;

use canopy_simd::{x25519_batch, Backend};
use common::{backends_under_test, hex32, random32, rng};
use serde_json::Value;

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/x25519_test.json");

struct Case {
    id: u64,
    scalar: [u8; 32],
    point: [u8; 32],
    shared: [u8; 32],
    zero_flag: bool,
}

fn field<'a>(v: &'a Value, name: &str, at: &str) -> &'a Value {
    v.get(name)
        .unwrap_or_else(|| panic!("{FILE}: {at} has no field `{name}`"))
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(FILE).unwrap_or_else(|e| panic!("{FILE}: {e}"));
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{FILE}: {e}"));
    let declared = field(&json, "numberOfTests", "the file")
        .as_u64()
        .unwrap_or_else(|| panic!("{FILE}: `numberOfTests` is not a number"));
    let mut out = Vec::new();
    let groups = field(&json, "testGroups", "the file")
        .as_array()
        .unwrap_or_else(|| panic!("{FILE}: `testGroups` is not an array"));
    for (g, group) in groups.iter().enumerate() {
        let curve = field(group, "curve", &format!("testGroups[{g}]"));
        assert_eq!(curve, "curve25519", "{FILE}: testGroups[{g}].curve");
        let tests = field(group, "tests", &format!("testGroups[{g}]"))
            .as_array()
            .unwrap_or_else(|| panic!("{FILE}: testGroups[{g}].tests is not an array"));
        for (t, test) in tests.iter().enumerate() {
            let at = format!("testGroups[{g}].tests[{t}]");
            let text = |name: &str| {
                field(test, name, &at)
                    .as_str()
                    .unwrap_or_else(|| panic!("{FILE}: {at}.{name} is not a string"))
                    .to_owned()
            };
            let result = text("result");
            assert_ne!(
                result, "invalid",
                "{FILE}: {at}: no X25519 input is invalid"
            );
            let flags = field(test, "flags", &at)
                .as_array()
                .unwrap_or_else(|| panic!("{FILE}: {at}.flags is not an array"));
            out.push(Case {
                id: field(test, "tcId", &at)
                    .as_u64()
                    .unwrap_or_else(|| panic!("{FILE}: {at}.tcId is not a number")),
                scalar: hex32(&text("private")),
                point: hex32(&text("public")),
                shared: hex32(&text("shared")),
                zero_flag: flags.iter().any(|f| f == "ZeroSharedSecret"),
            });
        }
    }
    assert_eq!(out.len() as u64, declared, "{FILE}: numberOfTests");
    out
}

fn portable(scalar: &[u8; 32], point: &[u8; 32]) -> [u8; 32] {
    let mut out = [[0u8; 32]];
    let _ = x25519_batch(Backend::Portable, &[*scalar], &[*point], &mut out).unwrap();
    out[0]
}

/// Runs `case` at `position` of a batch of `len` random lanes; checks every lane. Returns the
/// number of lanes checked.
fn run_at(backend: Backend, case: &Case, position: usize, len: usize, seed: u64) -> usize {
    let mut r = rng(seed);
    let mut scalars: Vec<[u8; 32]> = (0..len).map(|_| random32(&mut r)).collect();
    let mut points: Vec<[u8; 32]> = (0..len).map(|_| random32(&mut r)).collect();
    scalars[position] = case.scalar;
    points[position] = case.point;
    let mut out = vec![[0u8; 32]; len];
    let zero = x25519_batch(backend, &scalars, &points, &mut out).unwrap();
    let what = format!("{backend}: tcId {} in lane {position} of {len}", case.id);
    assert_eq!(out[position], case.shared, "{what}");
    assert_eq!(zero.contains(position), case.shared == [0; 32], "{what}");
    for lane in (0..len).filter(|&l| l != position) {
        let expected = portable(&scalars[lane], &points[lane]);
        assert_eq!(out[lane], expected, "{what}: neighbour lane {lane}");
        assert_eq!(
            zero.contains(lane),
            expected == [0; 32],
            "{what}: lane {lane}"
        );
    }
    len
}

#[test]
fn every_case_in_every_lane_of_every_backend() {
    let cases = cases();
    let zero_cases = cases.iter().filter(|c| c.shared == [0; 32]).count();
    // The file's flag and the all-zero output coincide.
    for c in &cases {
        assert_eq!(c.zero_flag, c.shared == [0; 32], "{FILE}: tcId {}", c.id);
    }
    assert_eq!(zero_cases, 31, "{FILE}: ZeroSharedSecret cases");

    for backend in backends_under_test("wycheproof") {
        let lanes = backend.lanes();
        let (mut placements, mut lanes_checked) = (0usize, 0usize);
        for (n, case) in cases.iter().enumerate() {
            let seed = n as u64;
            for position in 0..lanes {
                lanes_checked += run_at(backend, case, position, lanes, seed);
                placements += 1;
            }
            // In the padded tail of a batch one register and one lane long.
            lanes_checked += run_at(backend, case, lanes, lanes + 1, seed);
            placements += 1;
        }
        assert_eq!(placements, cases.len() * (lanes + 1));
        println!(
            "wycheproof/{backend}: {} cases × {} positions = {placements} placements, \
             {lanes_checked} lanes checked, {zero_cases} cases flagged all-zero in every position",
            cases.len(),
            lanes + 1
        );
    }
}
