//! The HTTP face of OpenPush: Easemob-compatible handlers, authentication, envelopes, rate
//! limits and the OpenAPI document, plus [`Server`], which binds and runs them.

pub mod admin;
pub mod apidoc;
pub mod auth;
pub mod config;
mod conn;
mod cursor;
mod envelope;
pub mod error;
mod extract;
pub mod hashing;
mod ratelimit;
mod routes;
mod server;
pub mod source_limit;
pub mod state;

pub use config::{Config, DEFAULT_CONFIG_TOML};
pub use routes::notifiers;
pub use server::{openapi, router, Server, ServerError};
