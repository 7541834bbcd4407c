//! Agent PKI: the certificate authority, the install tokens agents enrol
//! with, and the platform's view of every certificate issued. Machines
//! and what they do with their certificates live in `domain::agents`.

pub mod ca;
pub mod certificates;
pub mod install_tokens;
