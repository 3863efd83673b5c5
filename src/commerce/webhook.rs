//! Stripe webhooks: signature verification on the raw body, and the event handlers.
