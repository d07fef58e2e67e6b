//! Arrival profiles: when in the day and the week joins, leaves, updates and application
//! messages happen.
//!
//! A profile is a relative intensity per hour of the week: `hourly_weights[h] ×
//! weekday_weights[d]` for hour `h` of weekday `d`, scaled so that its mean over the week is 1.
//! Simulated time 0 is Monday 00:00 (the group's local time). A workload's rates
//! (`joins_per_day`, `leaves_per_day`, one update every `update_interval_days`,
//! `app_messages_per_member_day`) are then means over a week: the expected number of events in
//! a whole week is the same under every profile, only their place in the week moves.
//!
//! Generated streams follow a profile by time warping: the generator draws its events exactly
//! as for a flat profile, in *mean time* τ, and each event happens at the real time `t` with
//! `Λ(t) = τ`, where `Λ(t) = ∫₀ᵗ λ(s) ds` is the cumulative intensity. A unit-rate Poisson
//! process in τ is then a Poisson process of intensity `λ(t)` in real time, and a periodic
//! update every `I` of mean time is one every `I` of the profile's busy-ness. The flat profile
//! is the identity map, computed as such: its streams are those generated before profiles
//! existed, bit for bit.
//!
//! # Internal documentation
//!
//! `Λ` is piecewise linear over the 168 hours of the week (`cumulative[i]` is Λ at the start
//! of hour `i`, in hours) and grows by exactly one week per week, so both directions reduce
//! to one week plus whole weeks. An hour of weight 0 has no events: the inverse jumps over it.

use anyhow::{ensure, Result};
use serde::{Deserialize, Serialize};

/// Seconds per hour.
const HOUR: f64 = 3_600.0;

/// Hours per week.
const WEEK_HOURS: usize = 168;

/// Seconds per week.
const WEEK: f64 = WEEK_HOURS as f64 * HOUR;

/// A named arrival profile (`arrival_profile` in a workload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalProfile {
    /// The same intensity at every hour of every day (Poisson arrivals, as before profiles).
    #[default]
    Flat,
    /// An office group: weekday working hours busy, evenings and nights light, weekends
    /// quiet ([`OFFICE_HOURLY`], [`OFFICE_WEEKDAY`]).
    Office,
}

/// The office profile's hourly weights (hour 0 = 00:00–01:00): a working day from 08:00 to
/// 18:00 with a lunch dip, a short evening tail, and a night at a thirtieth of the day's peak
/// (devices that sync overnight).
pub const OFFICE_HOURLY: [f64; 24] = [
    0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, // 00–07
    0.5, 1.5, 3.0, 3.0, 3.0, // 07–12
    2.0, // lunch
    3.0, 3.0, 3.0, 3.0, // 13–17
    1.5, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2, // 17–24
];

/// The office profile's weekday weights (Monday first): weekends at a tenth to a seventh of
/// a working day.
pub const OFFICE_WEEKDAY: [f64; 7] = [1.0, 1.0, 1.0, 1.0, 1.0, 0.15, 0.1];

/// The relative intensity of a workload's events over the week, and the time warp that makes
/// a generated stream follow it (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct ArrivalShape {
    /// `None`: flat (the identity warp). Else the weight of each hour of the week, mean 1.
    weights: Option<Box<[f64; WEEK_HOURS]>>,
    /// Λ at the start of each hour of the week, in hours (`cumulative[168]` = 168).
    cumulative: Vec<f64>,
}

impl ArrivalShape {
    /// The flat shape: intensity 1 everywhere.
    pub fn flat() -> Self {
        ArrivalShape {
            weights: None,
            cumulative: Vec::new(),
        }
    }

    /// The shape of `profile`, with its hourly or weekday weights replaced by the given ones
    /// (empty: the profile's). Weights must be finite and ≥ 0 with a positive sum; they are
    /// relative (scaled to a weekly mean of 1).
    pub fn new(profile: ArrivalProfile, hourly: &[f64], weekday: &[f64]) -> Result<Self> {
        let (default_hourly, default_weekday) = match profile {
            ArrivalProfile::Flat => ([1.0; 24], [1.0; 7]),
            ArrivalProfile::Office => (OFFICE_HOURLY, OFFICE_WEEKDAY),
        };
        if profile == ArrivalProfile::Flat && hourly.is_empty() && weekday.is_empty() {
            return Ok(Self::flat());
        }
        let hourly = if hourly.is_empty() {
            &default_hourly[..]
        } else {
            hourly
        };
        let weekday = if weekday.is_empty() {
            &default_weekday[..]
        } else {
            weekday
        };
        for (name, w, n) in [
            ("hourly_weights", hourly, 24),
            ("weekday_weights", weekday, 7),
        ] {
            ensure!(
                w.len() == n,
                "{name} must have {n} numbers (one per {}), not {}",
                if n == 24 {
                    "hour from 00:00"
                } else {
                    "day from Monday"
                },
                w.len()
            );
            ensure!(
                w.iter().all(|x| x.is_finite() && *x >= 0.0),
                "{name} must be finite and >= 0"
            );
            ensure!(
                w.iter().sum::<f64>() > 0.0,
                "{name} must have a positive weight"
            );
        }
        let mut weights = Box::new([0.0; WEEK_HOURS]);
        for (i, w) in weights.iter_mut().enumerate() {
            *w = weekday[i / 24] * hourly[i % 24];
        }
        let mean = weights.iter().sum::<f64>() / WEEK_HOURS as f64;
        for w in weights.iter_mut() {
            *w /= mean;
        }
        let mut cumulative = Vec::with_capacity(WEEK_HOURS + 1);
        let mut acc = 0.0;
        cumulative.push(0.0);
        for w in weights.iter() {
            acc += w;
            cumulative.push(acc);
        }
        // Exactly one week per week, whatever the rounding of the sum (and so for the hours of
        // weight 0 that end the week: their cumulative stays the week's end).
        for i in (1..=WEEK_HOURS).rev() {
            cumulative[i] = WEEK_HOURS as f64;
            if weights[i - 1] > 0.0 {
                break;
            }
        }
        Ok(ArrivalShape {
            weights: Some(weights),
            cumulative,
        })
    }

    /// Whether this is the flat shape (the identity warp).
    pub fn is_flat(&self) -> bool {
        self.weights.is_none()
    }

    /// The relative intensity at real time `t` (seconds from Monday 00:00): its hour's
    /// weight, mean 1 over a week.
    pub fn intensity(&self, t: f64) -> f64 {
        match &self.weights {
            None => 1.0,
            Some(w) => w[hour_of_week(t)],
        }
    }

    /// Λ(t): the mean time (seconds) elapsed by real time `t` ≥ 0. The expected number of
    /// events of a rate-`r` process (per second, a weekly mean) in `[a, b)` is
    /// `r × (Λ(b) − Λ(a))`.
    pub fn to_mean_time(&self, t: f64) -> f64 {
        let Some(w) = &self.weights else {
            return t;
        };
        let weeks = (t / WEEK).floor();
        let rem = t - weeks * WEEK;
        let i = ((rem / HOUR) as usize).min(WEEK_HOURS - 1);
        let within = rem - i as f64 * HOUR;
        weeks * WEEK + self.cumulative[i] * HOUR + w[i] * within
    }

    /// The real time at which mean time `tau` ≥ 0 is reached: the inverse of
    /// [`Self::to_mean_time`] (the earliest such time, so hours of weight 0 are skipped).
    pub fn to_real_time(&self, tau: f64) -> f64 {
        let Some(w) = &self.weights else {
            return tau;
        };
        let weeks = (tau / WEEK).floor();
        let rem_h = (tau - weeks * WEEK) / HOUR;
        // The hour with cumulative[i] <= rem_h < cumulative[i + 1] (a weight-0 hour has an
        // empty interval and is never found).
        let i = self
            .cumulative
            .partition_point(|&c| c <= rem_h)
            .saturating_sub(1)
            .min(WEEK_HOURS - 1);
        let within = if w[i] > 0.0 {
            (rem_h - self.cumulative[i]) / w[i] * HOUR
        } else {
            0.0
        };
        let mut t = weeks * WEEK + i as f64 * HOUR + within.clamp(0.0, HOUR);
        // Rounding can land exactly on the start of the next hour; if that hour has weight 0,
        // the time belongs to the end of this one: step back below the boundary (hour
        // boundaries are exact in binary, so one step of the last bit suffices).
        while t > 0.0 && w[hour_of_week(t)] == 0.0 {
            t = f64::from_bits(t.to_bits() - 1);
        }
        t
    }
}

/// The hour of the week (0 = Monday 00:00–01:00) of real time `t` ≥ 0.
pub fn hour_of_week(t: f64) -> usize {
    let rem = t - (t / WEEK).floor() * WEEK;
    ((rem / HOUR) as usize).min(WEEK_HOURS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_is_the_identity() {
        let s = ArrivalShape::new(ArrivalProfile::Flat, &[], &[]).unwrap();
        assert!(s.is_flat());
        for t in [0.0, 1.5, 86_399.9, 3e7] {
            assert_eq!(s.to_mean_time(t).to_bits(), t.to_bits());
            assert_eq!(s.to_real_time(t).to_bits(), t.to_bits());
            assert_eq!(s.intensity(t), 1.0);
        }
    }

    #[test]
    fn the_warp_round_trips_and_keeps_a_week_a_week() {
        let s = ArrivalShape::new(ArrivalProfile::Office, &[], &[]).unwrap();
        assert!(!s.is_flat());
        // A week of real time is a week of mean time: weekly totals are kept.
        assert!((s.to_mean_time(WEEK) - WEEK).abs() < 1e-6);
        assert!(
            (s.to_mean_time(3.0 * WEEK + 7.0) - (3.0 * WEEK + s.to_mean_time(7.0))).abs() < 1e-6
        );
        let mut t = 0.0;
        while t < 2.0 * WEEK {
            let back = s.to_real_time(s.to_mean_time(t));
            assert!((back - t).abs() < 1e-6, "{t} -> {back}");
            t += 977.0;
        }
        // Monday 10:00 is busier than Monday 03:00 and Sunday 10:00.
        let at = |day: f64, hour: f64| s.intensity(day * 86_400.0 + hour * HOUR + 1.0);
        assert!(at(0.0, 10.0) > 10.0 * at(0.0, 3.0));
        assert!(at(0.0, 10.0) > 5.0 * at(6.0, 10.0));
        // The weights are relative: their weekly mean is 1.
        let mean: f64 = (0..WEEK_HOURS)
            .map(|h| s.intensity(h as f64 * HOUR))
            .sum::<f64>()
            / WEEK_HOURS as f64;
        assert!((mean - 1.0).abs() < 1e-12, "{mean}");
    }

    #[test]
    fn hours_of_weight_zero_are_skipped() {
        let mut hourly = [1.0; 24];
        hourly[..8].fill(0.0);
        let s = ArrivalShape::new(ArrivalProfile::Flat, &hourly, &[]).unwrap();
        for k in 0..1000 {
            let t = s.to_real_time(k as f64 * 601.0);
            let hour = (t / HOUR) as usize % 24;
            assert!(hour >= 8, "{t} is in hour {hour}");
        }
    }

    #[test]
    fn bad_weights_name_the_field() {
        let bad: [(&[f64], &[f64], &str); 4] = [
            (&[1.0; 23], &[], "hourly_weights"),
            (&[], &[1.0; 8], "weekday_weights"),
            (&[0.0; 24], &[], "hourly_weights"),
            (
                &[],
                &[1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0],
                "weekday_weights",
            ),
        ];
        for (h, w, field) in bad {
            let e = ArrivalShape::new(ArrivalProfile::Office, h, w).unwrap_err();
            assert!(e.to_string().contains(field), "{e}");
        }
    }
}
