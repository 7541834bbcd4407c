//! The contact form: validation, anti-spam, storage, notification.
