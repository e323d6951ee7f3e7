//! Meizu push (vendors.md). Being written.
