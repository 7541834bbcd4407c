//! Outgoing notifications. Every e-mail and webhook goes through a durable
//! outbox table, delivered by the outbox worker with retries. A [`Notice`]
//! is what an event says; `render` shapes it per channel.

pub mod digest;
pub mod email;
pub mod notice;
pub mod outbox;
pub mod render;
pub mod webhook;

pub use notice::{MachineFacts, Notice, RuleFacts};
