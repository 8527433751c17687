//! Load, evaluate and type-check manifests.

pub mod conditions;
pub mod eval;
pub mod expr;
pub mod functions;
pub mod inputs;
pub mod load;
pub mod refactoring;
pub mod syntax;
pub mod types;

#[cfg(test)]
mod tests;
