//! Fuzz oracles (placeholder, filled below).
