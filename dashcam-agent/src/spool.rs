//! The durable on-disk queue between sampling and upload: plain files, each written to
//! `tmp/`, fsynced, renamed into place and its directory fsynced, so after a power cut or
//! `kill -9` every file is either whole or absent.
//!
//! Layout under the spool directory:
//! - `frames/<sha256>.jpg` then `frames/<sha256>.json` (the [`FrameEntry`]): a frame is
//!   spooled once its `.json` exists; a `.jpg` without one is a half-written frame and is
//!   removed on open.
//! - `captures/<id>.json`: a sealed capture — the exact signed manifest bytes. A frame listed
//!   by a sealed capture is never sealed again, so no frame is sent twice.
//! - `acked/<id>.json`: the server acknowledged the capture; its frames are being deleted.
//! - `state.json`: the next sequence number, the last upload and the drop counters.
//!
//! Frames are deleted only after the server acknowledged the capture that lists them.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use model::{
    CaptureId, CaptureManifest, DeviceKeypair, FrameEntry, FrameId, MANIFEST_FORMAT_VERSION,
    TimestampMs,
};
use serde::{Deserialize, Serialize};

use crate::error::io;
use crate::{Error, Result};

/// A capture sealed for upload: the manifest bytes exactly as signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedCapture {
    pub capture_id: CaptureId,
    pub sequence_number: u64,
    /// The manifest JSON, byte for byte what was signed.
    pub body: String,
    pub signature: String,
    pub frames: Vec<FrameId>,
}

/// What the spool remembers between runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SpoolState {
    pub next_sequence: u64,
    pub last_upload: Option<TimestampMs>,
    pub frames_uploaded: u64,
    pub captures_uploaded: u64,
    /// Frames dropped on the device, per reason slug.
    pub drops: BTreeMap<String, u64>,
}

/// Counts for `waymark-agent status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpoolStatus {
    pub pending_frames: usize,
    pub sealed_captures: usize,
    pub bytes: u64,
}

/// The spool directory, opened.
#[derive(Debug)]
pub struct Spool {
    root: PathBuf,
}

fn spool_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Spool {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

impl Spool {
    /// Opens (creating) the spool at `root` and finishes whatever a crash interrupted.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let spool = Self { root: root.into() };
        for dir in ["frames", "captures", "acked", "tmp"] {
            let path = spool.root.join(dir);
            fs::create_dir_all(&path).map_err(io("create", &path))?;
        }
        spool.recover()?;
        Ok(spool)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn recover(&self) -> Result<()> {
        let tmp = self.root.join("tmp");
        for entry in read_dir(&tmp)? {
            fs::remove_file(&entry).map_err(io("remove", &entry))?;
        }
        // Acknowledged captures whose deletion was cut short.
        for acked in read_dir(&self.root.join("acked"))? {
            let capture = read_capture(&acked)?;
            self.delete_acknowledged(&capture, &acked)?;
        }
        // Half-written frames: a picture without its entry was never spooled.
        let frames = self.root.join("frames");
        for path in read_dir(&frames)? {
            if path.extension().is_some_and(|e| e == "jpg") && !path.with_extension("json").exists()
            {
                fs::remove_file(&path).map_err(io("remove", &path))?;
            }
        }
        Ok(())
    }

    /// Writes `bytes` to `path` atomically and durably. On failure the half-written
    /// temporary file is removed (on a full disk it would hold the space), and a full disk
    /// is [`Error::SpoolFull`].
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let name = path
            .file_name()
            .ok_or_else(|| spool_err(path, "no file name"))?;
        let tmp = self.root.join("tmp").join(name);
        let written = (|| {
            let mut file = File::create(&tmp).map_err(io("create", &tmp))?;
            file.write_all(bytes).map_err(io("write", &tmp))?;
            file.sync_all().map_err(io("sync", &tmp))?;
            drop(file);
            fs::rename(&tmp, path).map_err(io("rename into", path))
        })();
        if let Err(err) = written {
            fs::remove_file(&tmp).ok();
            return Err(match err {
                Error::Io { source, .. } if source.raw_os_error() == Some(28) => Error::SpoolFull {
                    path: path.to_owned(),
                },
                other => other,
            });
        }
        sync_dir(path.parent().unwrap_or(&self.root))
    }

    /// Spools one frame (already tagged) with its fix; idempotent for the same bytes.
    pub fn add(&self, jpeg: &[u8], fix: model::Fix) -> Result<FrameId> {
        let sha256 = FrameId::of_bytes(jpeg);
        let base = self.root.join("frames").join(sha256.to_hex());
        let entry_path = base.with_extension("json");
        if entry_path.exists() {
            return Ok(sha256);
        }
        self.write_atomic(&base.with_extension("jpg"), jpeg)?;
        let entry = FrameEntry { sha256, fix };
        let json = serde_json::to_vec(&entry).expect("a frame entry serialises");
        self.write_atomic(&entry_path, &json)?;
        Ok(sha256)
    }

    /// The bytes of a spooled frame.
    pub fn frame(&self, sha256: &FrameId) -> Result<Vec<u8>> {
        let path = self
            .root
            .join("frames")
            .join(format!("{}.jpg", sha256.to_hex()));
        fs::read(&path).map_err(io("read", &path))
    }

    /// Every spooled frame entry, sealed or not, ordered by time.
    pub fn frames(&self) -> Result<Vec<FrameEntry>> {
        let mut entries = Vec::new();
        for path in read_dir(&self.root.join("frames"))? {
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let bytes = fs::read(&path).map_err(io("read", &path))?;
            let entry: FrameEntry = serde_json::from_slice(&bytes)
                .map_err(|err| spool_err(&path, format!("unreadable entry: {err}")))?;
            entries.push(entry);
        }
        entries.sort_by_key(|entry| (entry.fix.time, entry.sha256.to_hex()));
        Ok(entries)
    }

    /// Sealed captures, oldest sequence first.
    pub fn sealed(&self) -> Result<Vec<SealedCapture>> {
        let mut captures = read_dir(&self.root.join("captures"))?
            .iter()
            .map(|path| read_capture(path))
            .collect::<Result<Vec<_>>>()?;
        captures.sort_by_key(|c| c.sequence_number);
        Ok(captures)
    }

    /// Frames not yet in a sealed capture.
    pub fn unsealed(&self) -> Result<Vec<FrameEntry>> {
        let sealed: HashSet<FrameId> = self
            .sealed()?
            .into_iter()
            .flat_map(|capture| capture.frames)
            .collect();
        Ok(self
            .frames()?
            .into_iter()
            .filter(|entry| !sealed.contains(&entry.sha256))
            .collect())
    }

    pub fn state(&self) -> Result<SpoolState> {
        let path = self.root.join("state.json");
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|err| spool_err(&path, format!("unreadable state: {err}"))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(SpoolState::default()),
            Err(err) => Err(io("read", &path)(err)),
        }
    }

    pub fn save_state(&self, state: &SpoolState) -> Result<()> {
        let json = serde_json::to_vec_pretty(state).expect("the spool state serialises");
        self.write_atomic(&self.root.join("state.json"), &json)
    }

    /// Adds drop counts to the state.
    pub fn record_drops(&self, drops: &BTreeMap<String, u64>) -> Result<()> {
        if drops.is_empty() {
            return Ok(());
        }
        let mut state = self.state()?;
        for (reason, count) in drops {
            *state.drops.entry(reason.clone()).or_default() += count;
        }
        self.save_state(&state)
    }

    /// Seals the unsealed frames into captures of at most `max_frames`, signed by `key`.
    pub fn seal(
        &self,
        key: &DeviceKeypair,
        firmware: &str,
        camera: &str,
        max_frames: usize,
    ) -> Result<Vec<SealedCapture>> {
        let unsealed = self.unsealed()?;
        let mut state = self.state()?;
        let next_from_files = self
            .sealed()?
            .iter()
            .map(|c| c.sequence_number + 1)
            .max()
            .unwrap_or(0);
        state.next_sequence = state.next_sequence.max(next_from_files);
        let mut sealed = Vec::new();
        for chunk in unsealed.chunks(max_frames.max(1)) {
            let manifest = CaptureManifest {
                format_version: MANIFEST_FORMAT_VERSION,
                device_key: key.public(),
                capture_id: CaptureId::new(),
                sequence_number: state.next_sequence,
                firmware: firmware.to_owned(),
                camera: camera.to_owned(),
                frames: chunk.to_vec(),
            };
            let (body, signature) = manifest.sign(key);
            let capture = SealedCapture {
                capture_id: manifest.capture_id,
                sequence_number: manifest.sequence_number,
                body: String::from_utf8(body).expect("manifest JSON is UTF-8"),
                signature: signature.to_hex(),
                frames: chunk.iter().map(|entry| entry.sha256).collect(),
            };
            let path = self
                .root
                .join("captures")
                .join(format!("{}.json", capture.capture_id));
            let json = serde_json::to_vec(&capture).expect("a sealed capture serialises");
            self.write_atomic(&path, &json)?;
            state.next_sequence += 1;
            self.save_state(&state)?;
            sealed.push(capture);
        }
        Ok(sealed)
    }

    /// The server acknowledged `capture`: delete it and its frames (crash-safe: the capture
    /// is first moved to `acked/`, and deletion resumes from there on the next open).
    pub fn acknowledge(&self, capture: &SealedCapture) -> Result<()> {
        let from = self
            .root
            .join("captures")
            .join(format!("{}.json", capture.capture_id));
        let to = self
            .root
            .join("acked")
            .join(format!("{}.json", capture.capture_id));
        fs::rename(&from, &to).map_err(io("move to acked", &from))?;
        sync_dir(&self.root.join("acked"))?;
        sync_dir(&self.root.join("captures"))?;
        let mut state = self.state()?;
        state.last_upload = Some(TimestampMs::now());
        state.frames_uploaded += capture.frames.len() as u64;
        state.captures_uploaded += 1;
        self.save_state(&state)?;
        self.delete_acknowledged(capture, &to)
    }

    /// Unseals `capture` (the server never accepted it) and deletes `frame` for good;
    /// the other frames are sealed again by the next [`Spool::seal`].
    pub fn discard(&self, capture: &SealedCapture, frame: &FrameId) -> Result<()> {
        let path = self
            .root
            .join("captures")
            .join(format!("{}.json", capture.capture_id));
        fs::remove_file(&path).map_err(io("remove", &path))?;
        sync_dir(&self.root.join("captures"))?;
        let frames = self.root.join("frames");
        for extension in ["json", "jpg"] {
            let path = frames.join(format!("{}.{extension}", frame.to_hex()));
            fs::remove_file(&path).map_err(io("remove", &path))?;
        }
        sync_dir(&frames)?;
        let mut drops = BTreeMap::new();
        drops.insert("refused_by_server".to_owned(), 1);
        self.record_drops(&drops)
    }

    fn delete_acknowledged(&self, capture: &SealedCapture, acked: &Path) -> Result<()> {
        let frames = self.root.join("frames");
        for sha in &capture.frames {
            // The entry first: a picture without an entry is cleaned up on open.
            for extension in ["json", "jpg"] {
                let path = frames.join(format!("{}.{extension}", sha.to_hex()));
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(io("remove", &path)(err)),
                }
            }
        }
        sync_dir(&frames)?;
        fs::remove_file(acked).map_err(io("remove", acked))?;
        sync_dir(&self.root.join("acked"))
    }

    pub fn status(&self) -> Result<SpoolStatus> {
        let mut bytes = 0;
        for path in read_dir(&self.root.join("frames"))? {
            bytes += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        }
        Ok(SpoolStatus {
            pending_frames: self.frames()?.len(),
            sealed_captures: self.sealed()?.len(),
            bytes,
        })
    }
}

fn read_capture(path: &Path) -> Result<SealedCapture> {
    let bytes = fs::read(path).map_err(io("read", path))?;
    serde_json::from_slice(&bytes)
        .map_err(|err| spool_err(path, format!("unreadable capture: {err}")))
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(io("list", dir))? {
        paths.push(entry.map_err(io("list", dir))?.path());
    }
    paths.sort();
    Ok(paths)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync", dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::tests::fix;

    #[test]
    fn frames_survive_reopen_and_are_sealed_once_then_deleted_on_ack() {
        let dir = tempfile::tempdir().unwrap();
        let key = DeviceKeypair::from_seed([3; 32]);
        let spool = Spool::open(dir.path()).unwrap();
        let a = spool.add(b"\xff\xd8frame a", fix(1, 48.0, 11.0)).unwrap();
        let b = spool.add(b"\xff\xd8frame b", fix(2, 48.0, 11.0)).unwrap();
        assert_eq!(
            spool.add(b"\xff\xd8frame a", fix(1, 48.0, 11.0)).unwrap(),
            a
        );
        // A half-written frame (picture without entry) and a stray temp file.
        fs::write(dir.path().join("frames/dead.jpg"), b"half").unwrap();
        fs::write(dir.path().join("tmp/x"), b"half").unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        assert!(!dir.path().join("frames/dead.jpg").exists());
        assert_eq!(spool.frames().unwrap().len(), 2);

        let sealed = spool.seal(&key, "fw", "cam", 1).unwrap();
        assert_eq!(sealed.len(), 2);
        assert_eq!(sealed[0].frames, vec![a]);
        assert_eq!(sealed[1].sequence_number, sealed[0].sequence_number + 1);
        assert!(spool.seal(&key, "fw", "cam", 10).unwrap().is_empty());
        let parsed = CaptureManifest::parse_and_verify(
            sealed[0].body.as_bytes(),
            &sealed[0].signature.parse().unwrap(),
        )
        .unwrap();
        assert_eq!(parsed.frames[0].sha256, a);

        spool.acknowledge(&sealed[0]).unwrap();
        assert_eq!(spool.frames().unwrap().len(), 1);
        assert_eq!(spool.frame(&b).unwrap(), b"\xff\xd8frame b");
        // An acknowledgement interrupted after the move to acked/ completes on open.
        fs::rename(
            dir.path()
                .join(format!("captures/{}.json", sealed[1].capture_id)),
            dir.path()
                .join(format!("acked/{}.json", sealed[1].capture_id)),
        )
        .unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        assert!(spool.frames().unwrap().is_empty());
        assert_eq!(spool.state().unwrap().next_sequence, 2);
    }
}
