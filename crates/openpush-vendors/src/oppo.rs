//! Oppo push (vendors.md). Being written.
