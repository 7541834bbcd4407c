//! UptimeRobot getMonitors client.
