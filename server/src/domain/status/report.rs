//! The `/status` report: services, 15-day uptime, fleet figures; cached.
