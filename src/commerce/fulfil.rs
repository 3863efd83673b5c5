//! Fulfilment of a paid Checkout Session, shared by the success page and the webhook.
