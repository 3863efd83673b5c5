//! Selling and licensing: issuing licenses (from checkout, sales or the CLI), fulfilling
//! Stripe Checkout sessions, and applying Stripe webhook events.

pub mod expiry;
pub mod fulfil;
pub mod issue;
pub mod stripe_api;
pub mod webhook;
