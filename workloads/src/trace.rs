//! Trace replay: a deployment's own directory log drives the simulation instead of a
//! generated stream.
//!
//! Two formats, one record per line, blank lines and lines starting with `#` ignored:
//! - CSV: `time,operation,person,device` (an optional header line with exactly these names);
//! - JSON lines: `{"time": …, "operation": "…", "person": "…", "device": "…"}`.
//!
//! `time` is seconds since the trace start (a number) or an RFC 3339 UTC timestamp
//! (`2026-03-01T09:30:00Z`, optional fraction); times are taken relative to the first
//! record and must not decrease. `operation` is `join` (or `add`), `leave` (or `remove`) or
//! `update`. `person` and `device` are free-form names.
//!
//! Mapping to the group: a person whose first record is not a `join` was a member when the
//! trace starts, and is assigned to the next initial person of the start state (in order of
//! first appearance; its devices, in order of first appearance, to that person's device
//! slots). Persons whose first record is a `join` are new. Consecutive `join` (or `leave`)
//! records of one person at one time are one unit: committed together, like a multi-device
//! user's devices.

use std::collections::HashMap;

use anyhow::{anyhow, bail, ensure, Context, Result};
use serde::Deserialize;

use crate::churn::{MemberId, Op, OpKind};

/// A parsed trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The operations, time-ordered, times relative to the first record.
    pub ops: Vec<Op>,
    /// Person names by id.
    pub persons: Vec<String>,
    /// Persons that were members at the start (ids `0..initial_persons`).
    pub initial_persons: u32,
    /// Seconds from the first to the last record.
    pub span_seconds: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRecord {
    time: serde_json::Value,
    operation: String,
    person: serde_json::Value,
    device: serde_json::Value,
}

struct Record {
    line: usize,
    time: f64,
    kind: OpKind,
    person: String,
    device: String,
}

fn name(v: &serde_json::Value) -> Result<String> {
    match v {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => bail!("person and device must be strings or numbers"),
    }
}

fn parse_kind(s: &str) -> Result<OpKind> {
    match s.trim().to_ascii_lowercase().as_str() {
        "join" | "add" => Ok(OpKind::Join),
        "leave" | "remove" => Ok(OpKind::Leave),
        "update" => Ok(OpKind::Update),
        other => bail!("unknown operation {other:?} (expected join, leave or update)"),
    }
}

/// Seconds since the Unix epoch of an RFC 3339 UTC timestamp, or a plain number of seconds.
fn parse_time(s: &str) -> Result<f64> {
    let s = s.trim();
    if let Ok(v) = s.parse::<f64>() {
        ensure!(v.is_finite(), "time is not finite");
        return Ok(v);
    }
    let bad = || anyhow!("time {s:?} is neither seconds nor an RFC 3339 UTC timestamp");
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64> {
        s.get(r).and_then(|x| x.parse().ok()).ok_or_else(bad)
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm) = (num(11..13)?, num(14..16)?);
    let rest = s.get(17..).ok_or_else(bad)?;
    let rest = rest
        .strip_suffix('Z')
        .or_else(|| rest.strip_suffix('z'))
        .or_else(|| rest.strip_suffix("+00:00"))
        .ok_or_else(bad)?;
    let secs: f64 = rest.parse().map_err(|_| bad())?;
    ensure!(
        (1..=12).contains(&m) && (1..=31).contains(&d) && hh < 24 && mm < 60 && secs < 61.0,
        bad()
    );
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok((days * 86_400 + hh * 3600 + mm * 60) as f64 + secs)
}

fn records(text: &str) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    let mut first = true;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let header = first && !l.starts_with('{');
        first = false;
        let rec = if l.starts_with('{') {
            let j: JsonRecord =
                serde_json::from_str(l).with_context(|| format!("line {line}: JSON record"))?;
            let time = match &j.time {
                serde_json::Value::Number(n) => {
                    n.as_f64().ok_or_else(|| anyhow!("line {line}: bad time"))?
                }
                serde_json::Value::String(s) => {
                    parse_time(s).with_context(|| format!("line {line}"))?
                }
                _ => bail!("line {line}: time must be a number or a string"),
            };
            Record {
                line,
                time,
                kind: parse_kind(&j.operation).with_context(|| format!("line {line}"))?,
                person: name(&j.person).with_context(|| format!("line {line}"))?,
                device: name(&j.device).with_context(|| format!("line {line}"))?,
            }
        } else {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            if header && f == ["time", "operation", "person", "device"] {
                continue;
            }
            ensure!(
                f.len() == 4,
                "line {line}: expected 4 CSV fields (time,operation,person,device), got {}",
                f.len()
            );
            Record {
                line,
                time: parse_time(f[0]).with_context(|| format!("line {line}"))?,
                kind: parse_kind(f[1]).with_context(|| format!("line {line}"))?,
                person: f[2].to_string(),
                device: f[3].to_string(),
            }
        };
        out.push(rec);
    }
    Ok(out)
}

/// Parse a trace (CSV or JSON lines, detected per line). `initial_persons` and
/// `devices_per_person` describe the start state the trace's existing persons are mapped to.
pub fn parse(text: &str, initial_persons: u32, devices_per_person: u32) -> Result<Trace> {
    let recs = records(text)?;
    ensure!(!recs.is_empty(), "the trace has no records");
    let t0 = recs[0].time;
    for w in recs.windows(2) {
        ensure!(
            w[1].time >= w[0].time,
            "line {}: time goes backwards",
            w[1].line
        );
    }
    // Pass 1: initial persons (first record not a join), in order of first appearance.
    let mut first_kind: HashMap<&str, OpKind> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for r in &recs {
        if !first_kind.contains_key(r.person.as_str()) {
            first_kind.insert(&r.person, r.kind);
            order.push(&r.person);
        }
    }
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let mut persons = Vec::new();
    for p in order.iter().filter(|p| first_kind[**p] != OpKind::Join) {
        ids.insert(p, persons.len() as u32);
        persons.push(p.to_string());
    }
    let initial = persons.len() as u32;
    ensure!(
        initial <= initial_persons,
        "the trace refers to {initial} persons that were already members, but the start state \
         has only {initial_persons} (raise --members)"
    );
    // Unreferenced initial persons keep ids up to `initial_persons`; new persons follow.
    let joiners = order.iter().filter(|p| first_kind[**p] == OpKind::Join);
    for (next, p) in (initial_persons..).zip(joiners) {
        ids.insert(p, next);
        persons.push(p.to_string());
    }
    // Pass 2: devices and ops.
    let mut devices: HashMap<(u32, &str), u32> = HashMap::new();
    let mut device_count: HashMap<u32, u32> = HashMap::new();
    let mut present: HashMap<MemberId, bool> = HashMap::new();
    let mut ops = Vec::with_capacity(recs.len());
    let mut unit = 0u64;
    let mut previous: Option<(f64, OpKind, u32)> = None;
    for r in &recs {
        let person = ids[r.person.as_str()];
        let device = match devices.get(&(person, r.device.as_str())) {
            Some(&d) => d,
            None => {
                let c = device_count.entry(person).or_insert(0);
                let d = *c;
                *c += 1;
                if person < initial && r.kind != OpKind::Join {
                    ensure!(
                        d < devices_per_person,
                        "line {}: person {:?} uses more than {devices_per_person} devices that \
                         were already members",
                        r.line,
                        r.person
                    );
                }
                devices.insert((person, r.device.as_str()), d);
                d
            }
        };
        let member = MemberId { person, device };
        let is_initial_device = person < initial && device < devices_per_person;
        let here = *present.get(&member).unwrap_or(&is_initial_device);
        match r.kind {
            OpKind::Join => ensure!(
                !here,
                "line {}: join of a device already in the group",
                r.line
            ),
            OpKind::Leave | OpKind::Update => ensure!(
                here,
                "line {}: {:?} of a device not in the group",
                r.line,
                r.kind
            ),
        }
        present.insert(member, r.kind != OpKind::Leave);
        let key = (r.time, r.kind, person);
        let u = if r.kind == OpKind::Update {
            0
        } else {
            if previous != Some(key) {
                unit += 1;
            }
            unit
        };
        previous = Some(key);
        ops.push(Op {
            time: r.time - t0,
            kind: r.kind,
            member,
            unit: u,
            proposer: None,
        });
    }
    Ok(Trace {
        span_seconds: recs[recs.len() - 1].time - t0,
        ops,
        persons,
        initial_persons: initial,
    })
}

/// Read and parse a trace file.
pub fn read(
    path: &std::path::Path,
    initial_persons: u32,
    devices_per_person: u32,
) -> Result<Trace> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading trace {}", path.display()))?;
    parse(&text, initial_persons, devices_per_person)
        .with_context(|| format!("in {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "time,operation,person,device\n\
        2026-03-02T09:00:00Z,join,alice,laptop\n\
        2026-03-02T09:00:00Z,join,alice,phone\n\
        2026-03-02T10:00:00Z,update,bob,laptop\n\
        2026-03-03T09:00:00.5Z,leave,carol,phone\n\
        2026-03-03T09:00:00.5Z,leave,carol,laptop\n";

    #[test]
    fn csv_and_json_lines_give_the_same_ops() {
        let csv = parse(CSV, 10, 2).unwrap();
        let json: String = CSV
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                format!(
                    "{{\"time\":\"{}\",\"operation\":\"{}\",\"person\":\"{}\",\"device\":\"{}\"}}\n",
                    f[0], f[1], f[2], f[3]
                )
            })
            .collect();
        assert_eq!(parse(&json, 10, 2).unwrap(), csv);
        assert_eq!(csv.initial_persons, 2, "bob and carol were members");
        assert_eq!(csv.ops.len(), 5);
        assert_eq!(
            csv.ops[0].member,
            MemberId {
                person: 10,
                device: 0
            }
        );
        assert_eq!(
            csv.ops[1].member,
            MemberId {
                person: 10,
                device: 1
            }
        );
        assert_eq!(csv.ops[0].unit, csv.ops[1].unit, "alice's devices together");
        assert_eq!(csv.ops[3].unit, csv.ops[4].unit);
        assert_ne!(csv.ops[0].unit, csv.ops[3].unit);
        assert_eq!(csv.ops[2].time, 3600.0);
        assert_eq!(csv.span_seconds, 86_400.5);
    }

    #[test]
    fn numeric_times_and_timestamps() {
        assert_eq!(parse_time("12.5").unwrap(), 12.5);
        assert_eq!(parse_time("1970-01-02T00:00:01Z").unwrap(), 86_401.0);
        assert_eq!(parse_time("2000-03-01T00:00:00Z").unwrap(), 951_868_800.0);
        assert!(parse_time("2000-13-01T00:00:00Z").is_err());
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn bad_traces_are_refused_with_the_line() {
        let e = parse("0,join,a,x\n1,join,a,x\n", 4, 1).unwrap_err();
        assert!(format!("{e:#}").contains("line 2"), "{e:#}");
        let e = parse("5,join,a,x\n1,leave,a,x\n", 4, 1).unwrap_err();
        assert!(format!("{e:#}").contains("backwards"), "{e:#}");
        let e = parse("0,leave,a,x\n0,leave,b,x\n", 1, 1).unwrap_err();
        assert!(format!("{e:#}").contains("raise --members"), "{e:#}");
        assert!(parse("0,dance,a,x\n", 4, 1).is_err());
        assert!(parse("0,join,a\n", 4, 1).is_err());
        assert!(parse("", 4, 1).is_err());
    }
}
