//! Meizu push stand-in (vendors.md). Being written.
