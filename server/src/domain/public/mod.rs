//! What the public, unauthenticated routes offer: the contact form and the
//! landing page's figures.

pub mod contact;
pub mod landing;
