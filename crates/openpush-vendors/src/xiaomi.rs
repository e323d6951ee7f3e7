//! Xiaomi push (vendors.md). Being written.
