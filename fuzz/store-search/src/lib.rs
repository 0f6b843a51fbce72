//! `store::SearchIndex` and its query types, compiled from `store/src/search.rs` with the one
//! error type it needs, so the `search` fuzz target runs the real search code without the
//! rest of the store.

#[path = "../../../store/src/search.rs"]
mod search;

use std::path::PathBuf;

pub use search::{
    FeatureDocument, FeatureHit, SearchDocument, SearchHit, SearchIndex, SearchKind, SearchQuery,
};

/// The store's error variants the search index can return.
#[derive(Debug)]
pub enum Error {
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    SearchDirectory {
        path: PathBuf,
        reason: String,
    },
    Search(tantivy::TantivyError),
    SearchQuery(String),
    Corrupt(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl From<tantivy::TantivyError> for Error {
    fn from(err: tantivy::TantivyError) -> Self {
        Self::Search(err)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
