//! Deterministic synthetic chest CT phantom with ground truth.
