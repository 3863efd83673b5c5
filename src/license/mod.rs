//! Licenses on the platform. The key and activation formats, their signing and offline
//! verification live in the `fox-license` crate (shared with the engine CLI); here are the
//! platform's workflows around them.

pub mod actions;
pub mod cache;
pub mod validate;

pub use fox_license::activation::{self, ActivationClaims};
pub use fox_license::{Claims, KeyError, PREFIX, PublicKey, Signer, SigningKey, hint};
