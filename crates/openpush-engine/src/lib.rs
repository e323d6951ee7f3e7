//! The delivery engine. [`Engine::push_users`] routes one message to a list of users by
//! strategy (0–4, see [`openpush_core::Strategy`]) with a fixed number of store queries
//! whatever the number of targets: which users exist, their bindings, their known devices —
//! one query each — plus one transaction for everything the offline queue and the send queue
//! must keep. Vendor legs answered for before they are sent drain from the send queue
//! ([`outbox`]) at each vendor's pace.

pub mod outbox;
mod router;
mod tasks;

pub use outbox::OutboxConfig;
pub use router::{Engine, EngineError, Leg, Mode, Origin, TargetResult, TargetStatus};
pub use tasks::{count as count_results, RunnerConfig, TaskRunner};
