//! Agent PKI: the certificate authority, install tokens, enrolment and the
//! certificates issued to machines.

pub mod ca;
pub mod certificates;
pub mod enrolment;
pub mod heartbeat_writer;
pub mod install_tokens;
pub mod requirements;
