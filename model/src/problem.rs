//! RFC 9457 problem details: the body of every HTTP error Waymark returns, and what the
//! agent reads back. One stable `type` per error kind.

use serde::{Deserialize, Serialize};

/// Base of every problem `type` URI; the slug follows (e.g. `…/problems/teleport`).
pub const PROBLEM_TYPE_BASE: &str = "https://waymark.dev/problems/";

/// An `application/problem+json` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI naming the kind of problem, stable across releases.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, human-readable summary of the kind.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, and what to do.
    pub detail: String,
    /// Extra members (e.g. the list of missing blobs), flattened into the object.
    #[serde(flatten, default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    pub fn new(status: u16, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("{PROBLEM_TYPE_BASE}{slug}"),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            extensions: serde_json::Map::new(),
        }
    }

    /// The slug of `type`, if it is one of Waymark's.
    pub fn slug(&self) -> Option<&str> {
        self.kind.strip_prefix(PROBLEM_TYPE_BASE)
    }

    pub fn with_extension(mut self, key: &str, value: serde_json::Value) -> Self {
        self.extensions.insert(key.to_owned(), value);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_rfc9457_with_extensions_flattened() {
        let problem = Problem::new(
            409,
            "missing-blobs",
            "Missing blobs",
            "upload 1 frame first",
        )
        .with_extension("missing", serde_json::json!(["ab"]));
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(json["type"], "https://waymark.dev/problems/missing-blobs");
        assert_eq!(json["status"], 409);
        assert_eq!(json["missing"][0], "ab");
        let back: Problem = serde_json::from_value(json).unwrap();
        assert_eq!(back, problem);
        assert_eq!(back.slug(), Some("missing-blobs"));
    }
}
