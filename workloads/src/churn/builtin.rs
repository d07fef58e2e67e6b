//! Built-in workloads (`canopy plan --workload NAME`), as TOML so they double as examples.

use anyhow::{anyhow, Result};

use super::Workload;

/// The names of the built-in workloads, default first.
pub const BUILTIN_NAMES: &[&str] = &[
    "enterprise-50k",
    "onboarding-10k",
    "multidevice-10k",
    "offline-10k",
    "adversarial-2k",
    "smoke",
];

/// Steady enterprise churn in a 50,000-member group over 30 days: about 40 persons join and
/// 40 leave per working day (roughly 2% turnover a month), every online device updates its
/// leaf every 90 days (a quarterly post-compromise-security refresh; 10% of the devices are
/// long offline and never do), membership changes are committed once an hour by the member
/// who proposed the first one, with a path, and Welcomes carry the tree.
const ENTERPRISE_50K: &str = r#"
name = "enterprise-50k"
seed = 1
members = 50000
initial_state = "populated"
days = 30
offline_fraction = 0.1
joins_per_day = 40
leaves_per_day = 40
update_interval_days = 90
commit_policy = "batch"
batch_interval_minutes = 60
committer = "proposer"
path_on_add = true
ratchet_tree_in_welcome = true
"#;

/// Onboarding waves and a reorganisation in a 10,000-member group.
const ONBOARDING_10K: &str = r#"
name = "onboarding-10k"
seed = 1
members = 10000
days = 30
joins_per_day = 10
leaves_per_day = 10
update_interval_days = 30
commit_policy = "every_change"
committer = "admin"
admin = 0
waves = [{ day = 1, persons = 500 }, { day = 8, persons = 500 }, { day = 15, persons = 500 }]
reorgs = [{ day = 22, persons = 2000 }]
"#;

/// Three devices per person, added and removed together.
const MULTIDEVICE_10K: &str = r#"
name = "multidevice-10k"
seed = 1
members = 9999
devices_per_person = 3
days = 30
joins_per_day = 10
leaves_per_day = 10
update_interval_days = 30
commit_policy = "batch"
batch_interval_minutes = 60
committer = "proposer"
"#;

/// Half the members long offline (never updating), the committer chosen to heal the tree.
const OFFLINE_10K: &str = r#"
name = "offline-10k"
seed = 1
members = 10000
days = 30
offline_fraction = 0.5
joins_per_day = 20
leaves_per_day = 20
update_interval_days = 30
commit_policy = "batch"
batch_interval_minutes = 60
committer = "most_blanks"
"#;

/// The pattern that maximises resolution sizes: spread-out removes blank the parents, joins
/// land as unmerged leaves (no path on add-only commits), nobody updates, one admin commits.
const ADVERSARIAL_2K: &str = r#"
name = "adversarial-2k"
seed = 1
members = 2048
days = 10
joins_per_day = 50
leaves_per_day = 100
commit_policy = "every_change"
committer = "admin"
admin = 0
path_on_add = false
adversarial = true
"#;

/// A small, fast mix of everything, for tests.
const SMOKE: &str = r#"
name = "smoke"
seed = 7
members = 60
devices_per_person = 2
days = 3
offline_fraction = 0.2
joins_per_day = 4
leaves_per_day = 4
update_interval_days = 2
commit_policy = "batch"
batch_interval_minutes = 240
committer = "proposer"
waves = [{ day = 1, persons = 5 }]
reorgs = [{ day = 2, persons = 4 }]
"#;

/// The built-in workload `name`.
pub fn builtin(name: &str) -> Result<Workload> {
    let text = match name {
        "enterprise-50k" => ENTERPRISE_50K,
        "onboarding-10k" => ONBOARDING_10K,
        "multidevice-10k" => MULTIDEVICE_10K,
        "offline-10k" => OFFLINE_10K,
        "adversarial-2k" => ADVERSARIAL_2K,
        "smoke" => SMOKE,
        _ => {
            return Err(anyhow!(
                "unknown built-in workload {name:?} (expected one of {})",
                BUILTIN_NAMES.join(", ")
            ))
        }
    };
    Workload::from_toml(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_and_generates() {
        for name in BUILTIN_NAMES {
            let w = builtin(name).unwrap();
            assert_eq!(&w.name, name);
            if w.members <= 10_000 {
                w.ops().unwrap();
            }
        }
    }
}
