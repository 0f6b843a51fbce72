//! The search index (tantivy): one document per accepted frame and per detected sign.
//!
//! Places are indexed as H3 cell terms at [`model::SEARCH_RESOLUTIONS`] (7, 9, 12), so a
//! place query is a term lookup at the nearest indexed resolution, refined by position.
//! Methods are synchronous (tantivy is); async callers run them on a blocking thread.

use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};

use h3o::{CellIndex, LatLng, Resolution};
use model::{CaptureId, ContributorId, DeviceId, FrameId, SEARCH_RESOLUTIONS, TimestampMs};
use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery, TermQuery, TermSetQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TEXT, Value,
};
use tantivy::{Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term, doc};

use crate::{Error, Result};

/// Coarsest cell a place query may use: a res-3 cell expands to 2 401 res-7 terms.
const COARSEST_QUERY_RESOLUTION: Resolution = Resolution::Three;
const WRITER_MEMORY_BYTES: usize = 50_000_000;
/// How long a write waits for another process to give the index's writer lock back.
const WRITER_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
const MAX_LIMIT: usize = 1_000;
/// The longest query text, in characters: a sign name or a few tags, never a document.
pub const MAX_QUERY_CHARS: usize = 200;
/// The most words a query text may have; each is one term every hit must contain.
pub const MAX_QUERY_WORDS: usize = 16;

/// What a search document describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchKind {
    Frame,
    Sign,
}

impl SearchKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Frame => "frame",
            Self::Sign => "sign",
        }
    }
}

/// One accepted frame, or one sign detected in it.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchDocument {
    pub kind: SearchKind,
    pub frame: FrameId,
    pub capture: CaptureId,
    pub contributor: ContributorId,
    pub device: DeviceId,
    pub captured_at: TimestampMs,
    pub lat: f64,
    pub lon: f64,
    /// Sign class (e.g. `stop`) for sign documents.
    pub sign_class: Option<String>,
    /// Free words to match: quality tags, the sign's readable name.
    pub tags: Vec<String>,
}

/// A structured query; every part given must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchQuery {
    /// Words every hit must contain among its sign class and tags. Plain words, no syntax:
    /// the text is split by the index's own tokenizer into at most [`MAX_QUERY_WORDS`]
    /// terms (and [`MAX_QUERY_CHARS`] characters), so nothing from outside reaches a
    /// recursive parser.
    pub text: Option<String>,
    pub kind: Option<SearchKind>,
    pub contributor: Option<ContributorId>,
    /// Documents inside this cell (any resolution from 3 to 15).
    pub cell: Option<CellIndex>,
    pub after: Option<TimestampMs>,
    pub before: Option<TimestampMs>,
    /// At most this many hits (capped at 1 000), newest first.
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub kind: SearchKind,
    pub frame: FrameId,
    pub capture: CaptureId,
    pub contributor: ContributorId,
    pub captured_at: TimestampMs,
    pub lat: f64,
    pub lon: f64,
    pub sign_class: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    kind: Field,
    frame: Field,
    capture: Field,
    contributor: Field,
    device: Field,
    captured_at: Field,
    lat: Field,
    lon: Field,
    cells: Field,
    sign_class: Field,
    text: Field,
}

impl Fields {
    fn schema() -> (Schema, Self) {
        let mut builder = Schema::builder();
        let fields = Self {
            kind: builder.add_text_field("kind", STRING | STORED),
            frame: builder.add_text_field("frame", STRING | STORED),
            capture: builder.add_text_field("capture", STRING | STORED),
            contributor: builder.add_text_field("contributor", STRING | STORED),
            device: builder.add_text_field("device", STRING),
            captured_at: builder.add_i64_field("captured_at", INDEXED | FAST | STORED),
            lat: builder.add_f64_field("lat", STORED),
            lon: builder.add_f64_field("lon", STORED),
            cells: builder.add_text_field("cells", STRING),
            sign_class: builder.add_text_field("sign_class", STRING | STORED),
            text: builder.add_text_field("text", TEXT),
        };
        (builder.build(), fields)
    }
}

/// A handle on the index: cheap to clone, one writer shared by all clones. Any number of
/// processes may open an index directory: each write takes the directory's writer lock,
/// waiting its turn while another process holds it, and gives it back after its commit;
/// readers pick up commits from other processes within a second (tantivy watches the index's
/// meta file).
#[derive(Clone)]
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Arc<Mutex<Option<IndexWriter<TantivyDocument>>>>,
    fields: Fields,
    dir: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SearchIndex")
    }
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it if empty.
    pub fn open_in_dir(dir: &Path) -> Result<Self> {
        let unusable = |reason: String| Error::SearchDirectory {
            path: dir.to_path_buf(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|source| Error::Directory {
            path: dir.to_path_buf(),
            source,
        })?;
        let directory = MmapDirectory::open(dir).map_err(|err| unusable(err.to_string()))?;
        let (schema, fields) = Fields::schema();
        let index = Index::open_or_create(directory, schema).map_err(|err| match err {
            tantivy::TantivyError::SchemaError(reason) => unusable(format!(
                "it was built with another schema ({reason}); move the directory away and re-index"
            )),
            other => unusable(other.to_string()),
        })?;
        Self::with_index(index, fields, Some(dir.to_path_buf()))
    }

    /// An index in memory (tests, throwaway runs).
    pub fn in_memory() -> Result<Self> {
        let (schema, fields) = Fields::schema();
        Self::with_index(Index::create_in_ram(schema), fields, None)
    }

    fn with_index(index: Index, fields: Fields, dir: Option<std::path::PathBuf>) -> Result<Self> {
        // On disk another process may commit: follow its commits. In memory only we write.
        let policy = if dir.is_some() {
            ReloadPolicy::OnCommitWithDelay
        } else {
            ReloadPolicy::Manual
        };
        let reader = index.reader_builder().reload_policy(policy).try_into()?;
        Ok(Self {
            index,
            reader,
            writer: Arc::new(Mutex::new(None)),
            fields,
            dir,
        })
    }

    /// A writer, waiting up to [`WRITER_LOCK_WAIT`] while another process holds the lock.
    fn take_writer_lock(&self) -> Result<IndexWriter<TantivyDocument>> {
        let deadline = std::time::Instant::now() + WRITER_LOCK_WAIT;
        loop {
            match self.index.writer_with_num_threads(1, WRITER_MEMORY_BYTES) {
                Ok(writer) => return Ok(writer),
                Err(tantivy::TantivyError::LockFailure(..))
                    if std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(err) => return Err(self.writer_lock_error(err)),
            }
        }
    }

    fn writer_lock_error(&self, err: tantivy::TantivyError) -> Error {
        match (err, &self.dir) {
            (tantivy::TantivyError::LockFailure(..), Some(dir)) => Error::SearchDirectory {
                path: dir.clone(),
                reason: format!(
                    "another process held its writer lock for over {} s",
                    WRITER_LOCK_WAIT.as_secs()
                ),
            },
            (other, _) => Error::Search(other),
        }
    }

    /// Replaces every document of `capture` by `documents` and commits, so replaying a
    /// capture never indexes it twice. Visible to searches when this returns.
    pub fn replace_capture(&self, capture: CaptureId, documents: &[SearchDocument]) -> Result<()> {
        let f = self.fields;
        let mut guard = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.is_none() {
            *guard = Some(self.take_writer_lock()?);
        }
        let writer = guard.as_mut().expect("the writer was just created");
        writer.delete_term(Term::from_field_text(f.capture, &capture.to_string()));
        for document in documents {
            writer.add_document(self.to_tantivy(document))?;
        }
        writer.commit()?;
        if self.dir.is_some() {
            // Give the directory's lock back: other processes' workers write in turn.
            if let Some(writer) = guard.take() {
                writer.wait_merging_threads()?;
            }
        }
        drop(guard);
        self.reader.reload()?;
        Ok(())
    }

    fn to_tantivy(&self, d: &SearchDocument) -> TantivyDocument {
        let f = self.fields;
        let mut document = doc!(
            f.kind => d.kind.as_str(),
            f.frame => d.frame.to_hex(),
            f.capture => d.capture.to_string(),
            f.contributor => d.contributor.to_string(),
            f.device => d.device.to_string(),
            f.captured_at => d.captured_at.as_millis(),
            f.lat => d.lat,
            f.lon => d.lon,
        );
        if let Ok(position) = LatLng::new(d.lat, d.lon) {
            for resolution in SEARCH_RESOLUTIONS {
                document.add_text(f.cells, position.to_cell(resolution).to_string());
            }
        }
        if let Some(class) = &d.sign_class {
            document.add_text(f.sign_class, class);
            document.add_text(f.text, class.replace(['-', '_'], " "));
        }
        for tag in &d.tags {
            document.add_text(f.text, tag);
        }
        document
    }

    /// Number of searchable documents.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `query`, newest first.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let term = |field: Field, text: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, text),
                IndexRecordOption::Basic,
            ))
        };
        if let Some(text) = query
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            clauses.push((Occur::Must, self.words_query(text)?));
        }
        if let Some(kind) = query.kind {
            clauses.push((Occur::Must, term(f.kind, kind.as_str())));
        }
        if let Some(contributor) = query.contributor {
            clauses.push((Occur::Must, term(f.contributor, &contributor.to_string())));
        }
        if let Some(cell) = query.cell {
            clauses.push((Occur::Must, self.cell_query(cell)?));
        }
        if query.after.is_some() || query.before.is_some() {
            let bound = |t: Option<TimestampMs>| match t {
                Some(t) => Bound::Included(Term::from_field_i64(f.captured_at, t.as_millis())),
                None => Bound::Unbounded,
            };
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(bound(query.after), bound(query.before))),
            ));
        }
        let combined: Box<dyn Query> = if clauses.is_empty() {
            Box::new(AllQuery)
        } else {
            Box::new(BooleanQuery::new(clauses))
        };
        let limit = query.limit.clamp(1, MAX_LIMIT);
        // A cell finer than the indexed term is refined by position afterwards.
        let refine = query
            .cell
            .filter(|cell| !SEARCH_RESOLUTIONS.contains(&cell.resolution()));
        let fetch = if refine.is_some() {
            MAX_LIMIT * 10
        } else {
            limit
        };
        let searcher = self.reader.searcher();
        let top = searcher.search(
            &combined,
            &TopDocs::with_limit(fetch).order_by_fast_field::<i64>("captured_at", Order::Desc),
        )?;
        let mut hits = Vec::with_capacity(limit);
        for (_, address) in top {
            let stored: TantivyDocument = searcher.doc(address)?;
            let hit = self.hit_from(&stored)?;
            let inside = refine.is_none_or(|cell| {
                LatLng::new(hit.lat, hit.lon).is_ok_and(|p| p.to_cell(cell.resolution()) == cell)
            });
            if inside {
                hits.push(hit);
            }
            if hits.len() == limit {
                break;
            }
        }
        Ok(hits)
    }

    /// Every word of `text` must be among a document's words: one term query per word,
    /// cut by the `text` field's own tokenizer (so `Speed-Limit 50` finds `speed-limit-50`).
    /// A text with no word matches nothing.
    fn words_query(&self, text: &str) -> Result<Box<dyn Query>> {
        let chars = text.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(Error::SearchQuery(format!(
                "the text is {chars} characters; the limit is {MAX_QUERY_CHARS}"
            )));
        }
        let field = self.fields.text;
        let mut analyzer = self.index.tokenizer_for_field(field)?;
        let mut words: Vec<String> = Vec::new();
        analyzer.token_stream(text).process(&mut |token| {
            if !words.contains(&token.text) {
                words.push(token.text.clone());
            }
        });
        if words.len() > MAX_QUERY_WORDS {
            return Err(Error::SearchQuery(format!(
                "the text has {} words; the limit is {MAX_QUERY_WORDS}",
                words.len()
            )));
        }
        if words.is_empty() {
            // Only punctuation: no document has no words.
            return Ok(Box::new(tantivy::query::EmptyQuery));
        }
        let terms = words
            .iter()
            .map(|word| -> (Occur, Box<dyn Query>) {
                let term = Term::from_field_text(field, word);
                (
                    Occur::Must,
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
                )
            })
            .collect();
        Ok(Box::new(BooleanQuery::new(terms)))
    }

    fn cell_query(&self, cell: CellIndex) -> Result<Box<dyn Query>> {
        let resolution = cell.resolution();
        if resolution < COARSEST_QUERY_RESOLUTION {
            return Err(Error::SearchQuery(format!(
                "cell {cell} has resolution {resolution}; use a cell of resolution 3 or finer"
            )));
        }
        let finest_indexed = SEARCH_RESOLUTIONS
            .into_iter()
            .rfind(|indexed| *indexed <= resolution);
        let terms: Vec<Term> = match finest_indexed {
            Some(indexed) => {
                let parent = cell
                    .parent(indexed)
                    .expect("indexed resolution is not finer");
                vec![Term::from_field_text(
                    self.fields.cells,
                    &parent.to_string(),
                )]
            }
            None => cell
                .children(SEARCH_RESOLUTIONS[0])
                .map(|child| Term::from_field_text(self.fields.cells, &child.to_string()))
                .collect(),
        };
        Ok(Box::new(TermSetQuery::new(terms)))
    }

    fn hit_from(&self, stored: &TantivyDocument) -> Result<SearchHit> {
        let f = self.fields;
        let text = |field: Field| {
            stored
                .get_first(field)
                .and_then(|v| v.as_str().map(str::to_owned))
        };
        let corrupt =
            |what: &str| Error::Corrupt(format!("search document without a valid {what}"));
        let parse = |field: Field, what: &str| -> Result<String> {
            text(field).ok_or_else(|| corrupt(what))
        };
        Ok(SearchHit {
            kind: match parse(f.kind, "kind")?.as_str() {
                "sign" => SearchKind::Sign,
                _ => SearchKind::Frame,
            },
            frame: parse(f.frame, "frame")?
                .parse()
                .map_err(|_| corrupt("frame"))?,
            capture: parse(f.capture, "capture")?
                .parse()
                .map_err(|_| corrupt("capture"))?,
            contributor: parse(f.contributor, "contributor")?
                .parse()
                .map_err(|_| corrupt("contributor"))?,
            captured_at: TimestampMs(
                stored
                    .get_first(f.captured_at)
                    .and_then(|v| v.as_i64())
                    .ok_or_else(|| corrupt("time"))?,
            ),
            lat: stored
                .get_first(f.lat)
                .and_then(|v| v.as_f64())
                .ok_or_else(|| corrupt("lat"))?,
            lon: stored
                .get_first(f.lon)
                .and_then(|v| v.as_f64())
                .ok_or_else(|| corrupt("lon"))?,
            sign_class: text(f.sign_class),
        })
    }
}
