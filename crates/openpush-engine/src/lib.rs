//! The delivery engine. [`Engine::push_users`] routes one message to a list of users by
//! strategy (0–4, see [`openpush_core::Strategy`]) with a fixed number of store queries
//! whatever the number of targets: which users exist, their bindings, their known devices —
//! one query each — plus one transaction for everything the offline queue must keep.

mod router;
mod tasks;

pub use router::{Engine, EngineError, Leg, Mode, Origin, TargetResult, TargetStatus};
pub use tasks::{count as count_results, RunnerConfig, TaskRunner};
