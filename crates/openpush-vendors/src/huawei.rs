//! Huawei push (vendors.md). Being written.
