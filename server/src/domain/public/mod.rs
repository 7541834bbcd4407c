//! What the public, unauthenticated routes offer: the contact form and the
//! landing page's figures.

pub mod contact;
pub mod landing;

/// Shared-cache keys of the public area; nothing else writes them. The
/// contact form's budget is counted by the rate limiter under its own key
/// (`LimitedAction::ContactForm`).
pub mod keys {
    /// The landing page's figures, JSON; expire on their TTL (no write
    /// invalidates them: a minute-old count is what the page promises).
    pub const LANDING_STATS: &str = "public:landing-stats";
}
