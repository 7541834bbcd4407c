//! Outgoing notifications. Emails go through a durable outbox table,
//! delivered by the outbox worker with retries.

pub mod outbox;
