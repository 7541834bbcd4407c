//! Cloudflare Turnstile siteverify client.
