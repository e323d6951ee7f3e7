//! Vivo push (vendors.md). Being written.
