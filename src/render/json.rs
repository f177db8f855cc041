//! JSON output: the serialized report, pretty-printed. The shape is
//! described by `schema/inspect.schema.json` and `schema/verify.schema.json`.

use serde::Serialize;

/// Pretty JSON of any report value.
pub fn render<T: Serialize>(value: &T) -> String {
    // Serializing plain data with string keys cannot fail.
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
