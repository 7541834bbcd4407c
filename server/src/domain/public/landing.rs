//! The landing page's public figures, cached.
