//! Models: shared feature binning, the histogram GBDT, ridge and logistic regression, and the
//! saved-model format.

pub mod binning;
pub mod gbdt;
pub mod io;
pub mod linear;
pub mod predict;
