//! Just enough ISO-BMFF (MP4/MOV) to find a timed-metadata track and read its samples: the
//! box walk over `moov/trak/mdia/{mdhd,hdlr,minf/stbl/{stsd,stts,stsz,stsc,stco,co64}}`.
//! Only the small `moov` box is held in memory; samples are read with seeks, so hour-long
//! recordings are fine. Written here because the `mp4` crates refuse tracks whose codec they
//! do not know, and the GPMF track (`gpmd`) is one of those.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::{Error, Result};

/// One sample of a track: where it is in the file and when it plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub offset: u64,
    pub size: u32,
    /// Start in track timescale ticks.
    pub start: u64,
    pub duration: u32,
}

/// A track's sample table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleTable {
    pub timescale: u32,
    pub samples: Vec<Sample>,
}

impl SampleTable {
    /// Milliseconds of media time at `ticks`.
    pub fn ms(&self, ticks: u64) -> i64 {
        (ticks as i128 * 1000 / i128::from(self.timescale.max(1))) as i64
    }
}

struct Reader<'a> {
    name: &'a str,
}

impl Reader<'_> {
    fn err(&self, reason: impl Into<String>) -> Error {
        Error::Mp4 {
            path: self.name.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Iterates the child boxes of `data`: `(type, body)`.
fn boxes<'d>(data: &'d [u8], reader: &Reader<'_>) -> Result<Vec<([u8; 4], &'d [u8])>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 8 <= data.len() {
        let size32 = u32::from_be_bytes(data[pos..pos + 4].try_into().expect("4 bytes"));
        let kind: [u8; 4] = data[pos + 4..pos + 8].try_into().expect("4 bytes");
        let (header, size) = match size32 {
            0 => (8, data.len() - pos),
            1 => {
                let large = data
                    .get(pos + 8..pos + 16)
                    .ok_or_else(|| reader.err("truncated 64-bit box size"))?;
                (
                    16,
                    u64::from_be_bytes(large.try_into().expect("8 bytes")) as usize,
                )
            }
            n => (8, n as usize),
        };
        if size < header || pos + size > data.len() {
            return Err(reader.err(format!(
                "box {:?} at byte {pos} claims {size} bytes; only {} are left (truncated or corrupt file)",
                String::from_utf8_lossy(&kind),
                data.len() - pos
            )));
        }
        out.push((kind, &data[pos + header..pos + size]));
        pos += size;
    }
    Ok(out)
}

fn child<'d>(data: &'d [u8], kind: &[u8; 4], reader: &Reader<'_>) -> Result<Option<&'d [u8]>> {
    Ok(boxes(data, reader)?
        .into_iter()
        .find(|(k, _)| k == kind)
        .map(|(_, body)| body))
}

fn be32(data: &[u8], at: usize, reader: &Reader<'_>) -> Result<u32> {
    data.get(at..at + 4)
        .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
        .ok_or_else(|| reader.err("truncated sample table"))
}

fn be64(data: &[u8], at: usize, reader: &Reader<'_>) -> Result<u64> {
    data.get(at..at + 8)
        .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
        .ok_or_else(|| reader.err("truncated sample table"))
}

/// Reads the `moov` box of the file at `path`.
pub fn read_moov(path: &Path) -> Result<Vec<u8>> {
    let name = path.display().to_string();
    let reader = Reader { name: &name };
    let mut file = File::open(path).map_err(crate::error::io("open", path))?;
    let len = file
        .metadata()
        .map_err(crate::error::io("stat", path))?
        .len();
    let mut pos = 0u64;
    while pos + 8 <= len {
        let mut header = [0u8; 16];
        file.seek(SeekFrom::Start(pos))
            .and_then(|_| file.read_exact(&mut header[..8]))
            .map_err(crate::error::io("read", path))?;
        let size32 = u32::from_be_bytes(header[..4].try_into().expect("4 bytes"));
        let kind: [u8; 4] = header[4..8].try_into().expect("4 bytes");
        let (header_len, size) = match size32 {
            0 => (8, len - pos),
            1 => {
                file.read_exact(&mut header[8..16])
                    .map_err(crate::error::io("read", path))?;
                (
                    16,
                    u64::from_be_bytes(header[8..16].try_into().expect("8 bytes")),
                )
            }
            n => (8, u64::from(n)),
        };
        if pos == 0 && &kind != b"ftyp" {
            return Err(reader.err("does not start with an `ftyp` box: not an MP4/MOV file"));
        }
        if size < header_len || pos + size > len {
            return Err(reader.err(format!(
                "top-level box {:?} at byte {pos} runs past the end of the file (truncated?)",
                String::from_utf8_lossy(&kind)
            )));
        }
        if &kind == b"moov" {
            let mut moov = vec![0u8; (size - header_len) as usize];
            file.seek(SeekFrom::Start(pos + header_len))
                .and_then(|_| file.read_exact(&mut moov))
                .map_err(crate::error::io("read", path))?;
            return Ok(moov);
        }
        pos += size;
    }
    Err(reader.err("has no `moov` box (truncated recording?)"))
}

/// The sample table of the first track whose sample description is `format`
/// (e.g. `gpmd`, `camm`); `None` when the file has no such track.
pub fn find_track(moov: &[u8], format: &[u8; 4], name: &str) -> Result<Option<SampleTable>> {
    let reader = Reader { name };
    for (kind, trak) in boxes(moov, &reader)? {
        if &kind != b"trak" {
            continue;
        }
        let Some(mdia) = child(trak, b"mdia", &reader)? else {
            continue;
        };
        let Some(stbl) = child(mdia, b"minf", &reader)?
            .map(|minf| child(minf, b"stbl", &reader))
            .transpose()?
            .flatten()
        else {
            continue;
        };
        let Some(stsd) = child(stbl, b"stsd", &reader)? else {
            continue;
        };
        if stsd.get(12..16) != Some(format.as_slice()) {
            continue;
        }
        let mdhd =
            child(mdia, b"mdhd", &reader)?.ok_or_else(|| reader.err("track without mdhd"))?;
        let timescale = if mdhd.first() == Some(&1) {
            be32(mdhd, 20, &reader)?
        } else {
            be32(mdhd, 12, &reader)?
        };
        return Ok(Some(sample_table(stbl, timescale, &reader)?));
    }
    Ok(None)
}

fn sample_table(stbl: &[u8], timescale: u32, reader: &Reader<'_>) -> Result<SampleTable> {
    let need = |kind: &[u8; 4]| -> Result<&[u8]> {
        child(stbl, kind, reader)?.ok_or_else(|| {
            reader.err(format!(
                "metadata track without {}",
                String::from_utf8_lossy(kind)
            ))
        })
    };
    // Sizes.
    let stsz = need(b"stsz")?;
    let fixed = be32(stsz, 4, reader)?;
    let count = be32(stsz, 8, reader)? as usize;
    let sizes: Vec<u32> = (0..count)
        .map(|i| {
            if fixed != 0 {
                Ok(fixed)
            } else {
                be32(stsz, 12 + 4 * i, reader)
            }
        })
        .collect::<Result<_>>()?;
    // Times.
    let stts = need(b"stts")?;
    let mut durations = Vec::with_capacity(count);
    for i in 0..be32(stts, 4, reader)? as usize {
        let n = be32(stts, 8 + 8 * i, reader)?;
        let delta = be32(stts, 12 + 8 * i, reader)?;
        durations.extend(std::iter::repeat_n(delta, n as usize));
    }
    // Chunk offsets.
    let chunk_offsets: Vec<u64> = if let Some(stco) = child(stbl, b"stco", reader)? {
        (0..be32(stco, 4, reader)? as usize)
            .map(|i| be32(stco, 8 + 4 * i, reader).map(u64::from))
            .collect::<Result<_>>()?
    } else {
        let co64 = need(b"co64")?;
        (0..be32(co64, 4, reader)? as usize)
            .map(|i| be64(co64, 8 + 8 * i, reader))
            .collect::<Result<_>>()?
    };
    let stsc = need(b"stsc")?;
    let runs: Vec<(u32, u32)> = (0..be32(stsc, 4, reader)? as usize)
        .map(|i| {
            Ok((
                be32(stsc, 8 + 12 * i, reader)?,
                be32(stsc, 12 + 12 * i, reader)?,
            ))
        })
        .collect::<Result<_>>()?;
    let mut samples = Vec::with_capacity(count);
    let mut start = 0u64;
    for (chunk_index, chunk_offset) in chunk_offsets.iter().enumerate() {
        let chunk_number = chunk_index as u32 + 1;
        let per_chunk = runs
            .iter()
            .rev()
            .find(|(first, _)| *first <= chunk_number)
            .map_or(1, |(_, n)| *n);
        let mut offset = *chunk_offset;
        for _ in 0..per_chunk {
            let i = samples.len();
            let (Some(&size), Some(&duration)) = (sizes.get(i), durations.get(i)) else {
                break;
            };
            samples.push(Sample {
                offset,
                size,
                start,
                duration,
            });
            offset += u64::from(size);
            start += u64::from(duration);
        }
    }
    Ok(SampleTable { timescale, samples })
}

/// Reads one sample's bytes.
pub fn read_sample(file: &mut File, sample: &Sample, path: &Path) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; sample.size as usize];
    file.seek(SeekFrom::Start(sample.offset))
        .and_then(|_| file.read_exact(&mut bytes))
        .map_err(crate::error::io("read a sample of", path))?;
    Ok(bytes)
}
