//! External monitors (UptimeRobot) for `/status/external`.
