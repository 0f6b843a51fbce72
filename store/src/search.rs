//! The search index (tantivy): one document per accepted frame, per detected sign and per
//! map feature. Frame and sign documents are replaced per capture, feature documents per
//! feature (a feature outlives the captures that saw it).
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

/// The file an on-disk index holds while the documents of rows stored before it was
/// created are still to be written (a fresh directory, or one rebuilt for a new schema).
const REBUILD_MARKER: &str = "waymark-rebuild-pending";

/// What a search document describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchKind {
    Frame,
    Sign,
    /// A map feature: one real-world sign, merged from every frame that saw it.
    Feature,
}

impl SearchKind {
    pub const ALL: [Self; 3] = [Self::Frame, Self::Sign, Self::Feature];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Frame => "frame",
            Self::Sign => "sign",
            Self::Feature => "feature",
        }
    }

    /// The kind named `text` (`frame`, `sign` or `feature`).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
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

/// One map feature, as search finds it: at its estimated position, dated by when it was
/// last seen, owned by its first observer.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDocument {
    /// The feature's stable id (`ft-…`).
    pub id: String,
    /// Sign class (e.g. `stop`).
    pub class: String,
    pub lat: f64,
    pub lon: f64,
    /// The newest frame that saw it: the photo a result shows.
    pub frame: FrameId,
    /// Its first observer, when that is an account id.
    pub first_contributor: Option<ContributorId>,
    pub first_seen: TimestampMs,
    pub last_seen: TimestampMs,
    /// When it was judged gone, if it is.
    pub gone_at: Option<TimestampMs>,
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
    /// The frame's owner; for a feature, its first observer.
    pub contributor: Option<ContributorId>,
    /// Documents inside this cell (any resolution from 3 to 15).
    pub cell: Option<CellIndex>,
    /// Captured (a feature: last seen) at or after.
    pub after: Option<TimestampMs>,
    pub before: Option<TimestampMs>,
    /// At most this many hits (capped at 1 000), newest first.
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub kind: SearchKind,
    /// The frame; for a feature, the newest frame that saw it.
    pub frame: FrameId,
    /// `None` for a feature (many captures saw it).
    pub capture: Option<CaptureId>,
    /// The frame's owner; for a feature, its first observer (`None` if not an account).
    pub contributor: Option<ContributorId>,
    /// When the frame was captured; for a feature, when it was last seen.
    pub captured_at: TimestampMs,
    pub lat: f64,
    pub lon: f64,
    pub sign_class: Option<String>,
    /// Only for a feature: its id, first sighting and when it was judged gone.
    pub feature: Option<FeatureHit>,
}

/// What a hit on a feature adds.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureHit {
    pub id: String,
    pub first_seen: TimestampMs,
    pub gone_at: Option<TimestampMs>,
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
    feature: Field,
    first_seen: Field,
    gone_at: Field,
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
            feature: builder.add_text_field("feature", STRING | STORED),
            first_seen: builder.add_i64_field("first_seen", STORED),
            gone_at: builder.add_i64_field("gone_at", STORED),
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
    /// Opens the index in `dir`, creating it if empty. An index built with another schema
    /// (an older Waymark) is moved aside to `<dir>.replaced-<ms>` and a fresh one created.
    /// A fresh index is marked [`rebuild_pending`](Self::rebuild_pending): the rows stored
    /// before it existed still need their documents.
    pub fn open_in_dir(dir: &Path) -> Result<Self> {
        let unusable = |reason: String| Error::SearchDirectory {
            path: dir.to_path_buf(),
            reason,
        };
        let (schema, fields) = Fields::schema();
        let directory = Self::directory(dir)?;
        let mut why = "the index directory was new".to_owned();
        let mut existed = Index::exists(&directory).map_err(|err| unusable(err.to_string()))?;
        let index = match Index::open_or_create(directory, schema.clone()) {
            Ok(index) => index,
            Err(tantivy::TantivyError::SchemaError(reason)) => {
                let mut aside = dir.as_os_str().to_owned();
                aside.push(format!(".replaced-{}", TimestampMs::now().as_millis()));
                let aside = std::path::PathBuf::from(aside);
                std::fs::rename(dir, &aside).map_err(|err| {
                    unusable(format!(
                        "it has another schema ({reason}) and cannot be moved aside to {}: {err}",
                        aside.display()
                    ))
                })?;
                existed = false;
                why = format!(
                    "the index had another schema ({reason}); it was moved aside to {}",
                    aside.display()
                );
                Index::open_or_create(Self::directory(dir)?, schema)
                    .map_err(|err| unusable(err.to_string()))?
            }
            Err(other) => return Err(unusable(other.to_string())),
        };
        if !existed {
            std::fs::write(dir.join(REBUILD_MARKER), why)
                .map_err(|err| unusable(format!("cannot write its rebuild marker: {err}")))?;
        }
        Self::with_index(index, fields, Some(dir.to_path_buf()))
    }

    fn directory(dir: &Path) -> Result<MmapDirectory> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Directory {
            path: dir.to_path_buf(),
            source,
        })?;
        MmapDirectory::open(dir).map_err(|err| Error::SearchDirectory {
            path: dir.to_path_buf(),
            reason: err.to_string(),
        })
    }

    /// Why rows stored before this index was created still need their documents written
    /// (a new directory, an index of another schema moved aside), if they do. Always `None`
    /// in memory.
    pub fn rebuild_pending(&self) -> Option<String> {
        let marker = self.dir.as_ref()?.join(REBUILD_MARKER);
        std::fs::read_to_string(marker).ok()
    }

    /// Records that every stored row's documents are queued for writing.
    pub fn rebuild_queued(&self) -> Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        match std::fs::remove_file(dir.join(REBUILD_MARKER)) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(Error::SearchDirectory {
                path: dir.clone(),
                reason: format!("cannot remove its rebuild marker: {err}"),
            }),
            _ => Ok(()),
        }
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
        self.write(|writer| {
            writer.delete_term(Term::from_field_text(f.capture, &capture.to_string()));
            for document in documents {
                writer.add_document(self.to_tantivy(document))?;
            }
            Ok(())
        })
    }

    /// Replaces the document of each feature in `documents` (a feature has one) and
    /// commits. Visible to searches when this returns.
    pub fn replace_features(&self, documents: &[FeatureDocument]) -> Result<()> {
        let f = self.fields;
        self.write(|writer| {
            for document in documents {
                writer.delete_term(Term::from_field_text(f.feature, &document.id));
                writer.add_document(self.feature_to_tantivy(document))?;
            }
            Ok(())
        })
    }

    /// Runs `change` on the writer and commits it, then reloads the reader.
    fn write(
        &self,
        change: impl FnOnce(&mut IndexWriter<TantivyDocument>) -> Result<()>,
    ) -> Result<()> {
        let mut guard = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.is_none() {
            *guard = Some(self.take_writer_lock()?);
        }
        let writer = guard.as_mut().expect("the writer was just created");
        if let Err(err) = change(writer) {
            writer.rollback()?;
            return Err(err);
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

    fn add_cells(&self, document: &mut TantivyDocument, lat: f64, lon: f64) {
        if let Ok(position) = LatLng::new(lat, lon) {
            for resolution in SEARCH_RESOLUTIONS {
                document.add_text(self.fields.cells, position.to_cell(resolution).to_string());
            }
        }
    }

    fn feature_to_tantivy(&self, d: &FeatureDocument) -> TantivyDocument {
        let f = self.fields;
        let mut document = doc!(
            f.kind => SearchKind::Feature.as_str(),
            f.feature => d.id.as_str(),
            f.frame => d.frame.to_hex(),
            f.captured_at => d.last_seen.as_millis(),
            f.first_seen => d.first_seen.as_millis(),
            f.lat => d.lat,
            f.lon => d.lon,
            f.sign_class => d.class.as_str(),
            f.text => d.class.replace(['-', '_'], " "),
        );
        if let Some(contributor) = d.first_contributor {
            document.add_text(f.contributor, contributor.to_string());
        }
        if let Some(gone_at) = d.gone_at {
            document.add_i64(f.gone_at, gone_at.as_millis());
            document.add_text(f.text, "gone");
        }
        self.add_cells(&mut document, d.lat, d.lon);
        document
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
        self.add_cells(&mut document, d.lat, d.lon);
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
        let time = |field: Field| {
            stored
                .get_first(field)
                .and_then(|v| v.as_i64())
                .map(TimestampMs)
        };
        let kind = SearchKind::parse(&parse(f.kind, "kind")?).ok_or_else(|| corrupt("kind"))?;
        let feature = match kind {
            SearchKind::Feature => Some(FeatureHit {
                id: parse(f.feature, "feature id")?,
                first_seen: time(f.first_seen).ok_or_else(|| corrupt("first sighting"))?,
                gone_at: time(f.gone_at),
            }),
            _ => None,
        };
        let capture = match kind {
            SearchKind::Feature => None,
            _ => Some(
                parse(f.capture, "capture")?
                    .parse()
                    .map_err(|_| corrupt("capture"))?,
            ),
        };
        let contributor = match (kind, text(f.contributor)) {
            (_, Some(id)) => Some(id.parse().map_err(|_| corrupt("contributor"))?),
            (SearchKind::Feature, None) => None,
            (_, None) => return Err(corrupt("contributor")),
        };
        Ok(SearchHit {
            kind,
            frame: parse(f.frame, "frame")?
                .parse()
                .map_err(|_| corrupt("frame"))?,
            capture,
            contributor,
            captured_at: time(f.captured_at).ok_or_else(|| corrupt("time"))?,
            lat: stored
                .get_first(f.lat)
                .and_then(|v| v.as_f64())
                .ok_or_else(|| corrupt("lat"))?,
            lon: stored
                .get_first(f.lon)
                .and_then(|v| v.as_f64())
                .ok_or_else(|| corrupt("lon"))?,
            sign_class: text(f.sign_class),
            feature,
        })
    }
}
