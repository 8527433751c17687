//! Resource kinds, attribute metadata and values of mlinfra manifests. No I/O.

pub mod gpu;
mod identity;
mod json_schema;
mod kinds;
mod number;
pub mod providers;
mod types;
mod value;

pub use identity::{
    describe_name_scope, name_scope, provider_account, provider_region_attribute, NameScope,
};
pub use json_schema::kind_json_schema;
pub use kinds::{
    kind, kinds, Attribute, BlockSchema, Cloud, KindClass, KindSchema, ACCELERATORS,
    META_ARGUMENTS, META_BLOCKS,
};
pub use number::Number;
pub use types::{AttrType, TypeMismatch};
pub use value::{format_f64, format_number, is_identifier, Value};
