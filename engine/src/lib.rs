//! The mlinfra engine: configuration, dependency graph, plan and state.

pub mod address;
pub mod config;
pub mod configure;
pub mod diag;

pub use address::{Address, InstanceKey, ModuleStep};
pub use config::eval::{
    evaluate, EvalOptions, Evaluated, ImportTarget, InputValue, Inputs, NoPrior, PriorAttributes,
    RawInput, ResourceInstance,
};
pub use config::load::{load, Config};
pub use diag::{Diagnostic, Diagnostics, Severity, Sources, Span};
pub mod backend_config;
pub mod crypto;
pub mod graph;
pub mod identity;
pub mod plan;
pub mod plan_json;
pub mod run;
pub mod secrets;
pub mod state;
pub mod store;

pub use config::inputs::{collect_inputs, CliInput};
pub mod apply;
pub mod budget;
pub mod files;
pub mod format;
pub mod refactor;
pub mod refresh;
