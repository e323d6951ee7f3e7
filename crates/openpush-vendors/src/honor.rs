//! Honor push (vendors.md). Being written.
