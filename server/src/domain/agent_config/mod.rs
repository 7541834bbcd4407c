//! What agents fetch besides heartbeats: the builds they update to and how
//! often each collector runs.

pub mod installers;
pub mod intervals;
pub mod target;
pub mod versions;
