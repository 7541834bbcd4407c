//! Service uptime tracking: checks every 30 minutes into `service_uptime`.
