//! Seeded MLS group states and churn workloads for Canopy (no timing here).
