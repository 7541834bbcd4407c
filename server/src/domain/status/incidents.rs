//! Service incidents: opened and resolved by the uptime job, or posted by hand.
