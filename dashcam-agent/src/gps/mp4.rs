//! Just enough ISO-BMFF (MP4/MOV) to find a timed-metadata track and read its samples: the
//! box walk over `moov/trak/mdia/{mdhd,hdlr,minf/stbl/{stsd,stts,stsz,stsc,stco,co64}}`.
//! Only the small `moov` box is held in memory; samples are read with seeks, so hour-long
//! recordings are fine. Written here because the `mp4` crates refuse tracks whose codec they
//! do not know, and the GPMF track (`gpmd`) is one of those.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::{Error, Result};

/// The most samples a track may list. A GoPro writes one GPMF sample a second, so this is
/// some 290 hours; the cap keeps a corrupt or hostile sample table from allocating gigabytes.
pub const MAX_SAMPLES: usize = 1 << 20;

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
        if size < header || size > data.len() - pos {
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
        if size < header_len || size > len - pos {
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
    if count > MAX_SAMPLES {
        return Err(reader.err(format!(
            "the metadata track lists {count} samples; at most {MAX_SAMPLES} are read (corrupt file?)"
        )));
    }
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
        let room = count - durations.len();
        durations.extend(std::iter::repeat_n(delta, (n as usize).min(room)));
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
            offset = offset.saturating_add(u64::from(size));
            start = start.saturating_add(u64::from(duration));
        }
    }
    Ok(SampleTable { timescale, samples })
}

/// Reads one sample's bytes; a sample the sample table places past the end of the file is
/// an error before anything is allocated for it.
pub fn read_sample(file: &mut File, sample: &Sample, path: &Path) -> Result<Vec<u8>> {
    let len = file
        .metadata()
        .map_err(crate::error::io("stat", path))?
        .len();
    if sample
        .offset
        .checked_add(u64::from(sample.size))
        .is_none_or(|end| end > len)
    {
        return Err(Error::Mp4 {
            path: path.display().to_string(),
            reason: format!(
                "a sample of {} bytes at byte {} runs past the end of the {len}-byte file (truncated?)",
                sample.size, sample.offset
            ),
        });
    }
    let mut bytes = vec![0u8; sample.size as usize];
    file.seek(SeekFrom::Start(sample.offset))
        .and_then(|_| file.read_exact(&mut bytes))
        .map_err(crate::error::io("read a sample of", path))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = u32::try_from(8 + body.len())
            .unwrap()
            .to_be_bytes()
            .to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    /// A full box: version and flags, then `fields` as big-endian u32s.
    fn full_box(kind: &[u8; 4], fields: &[u32]) -> Vec<u8> {
        let body: Vec<u8> = [0u32]
            .iter()
            .chain(fields)
            .flat_map(|v| v.to_be_bytes())
            .collect();
        mp4_box(kind, &body)
    }

    /// A `moov` with one `gpmd` track: `count` samples of 16 bytes (`stsz` with a fixed size),
    /// one `stts` run of `run` samples, all in one chunk at byte 0.
    fn moov(count: u32, run: u32) -> Vec<u8> {
        let mut stsd = 0u32.to_be_bytes().to_vec();
        stsd.extend(1u32.to_be_bytes());
        stsd.extend(mp4_box(b"gpmd", &[0; 8]));
        let stbl = [
            mp4_box(b"stsd", &stsd),
            full_box(b"stsz", &[16, count]),
            full_box(b"stts", &[1, run, 1001]),
            full_box(b"stsc", &[1, 1, count, 1]),
            full_box(b"stco", &[1, 0]),
        ]
        .concat();
        let minf = mp4_box(b"minf", &mp4_box(b"stbl", &stbl));
        let mdhd = full_box(b"mdhd", &[0, 0, 1000, 0, 0]);
        mp4_box(b"trak", &mp4_box(b"mdia", &[mdhd, minf].concat()))
    }

    #[test]
    fn a_well_formed_table_gives_its_samples() {
        let table = find_track(&moov(3, 3), b"gpmd", "t.mp4").unwrap().unwrap();
        assert_eq!(table.timescale, 1000);
        assert_eq!(table.samples.len(), 3);
        assert_eq!(
            table.samples[2],
            Sample {
                offset: 32,
                size: 16,
                start: 2002,
                duration: 1001
            }
        );
    }

    /// Found by `scripts/fuzz` (target `mp4_gpmf`, out of memory): tables that claim billions
    /// of samples allocated for all of them before reading a byte.
    #[test]
    fn tables_claiming_billions_of_samples_allocate_nothing_for_them() {
        let err = find_track(&moov(u32::MAX, 1), b"gpmd", "t.mp4").unwrap_err();
        assert!(err.to_string().contains("at most 1048576"), "{err}");
        // A time run of 4 billion samples over a table of two: two samples.
        let table = find_track(&moov(2, u32::MAX), b"gpmd", "t.mp4")
            .unwrap()
            .unwrap();
        assert_eq!(table.samples.len(), 2);
    }

    /// Found by `scripts/fuzz` (target `mp4_gpmf`, out of memory: `malloc(754974720)`): a
    /// sample placed past the end of the file was allocated before the read failed.
    #[test]
    fn a_sample_past_the_end_of_the_file_is_refused_before_it_is_allocated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short.mp4");
        std::fs::write(&path, [0u8; 200]).unwrap();
        let mut file = File::open(&path).unwrap();
        let inside = Sample {
            offset: 100,
            size: 100,
            start: 0,
            duration: 1,
        };
        assert_eq!(read_sample(&mut file, &inside, &path).unwrap().len(), 100);
        for (offset, size) in [(100, 754_974_720), (u64::MAX - 1, 16), (101, 100)] {
            let outside = Sample {
                offset,
                size,
                ..inside
            };
            let err = read_sample(&mut file, &outside, &path).unwrap_err();
            assert!(err.to_string().contains("runs past the end"), "{err}");
        }
    }

    #[test]
    fn a_box_claiming_more_bytes_than_exist_is_corrupt_not_an_overflow() {
        let mut huge = 1u32.to_be_bytes().to_vec();
        huge.extend(b"trak");
        huge.extend(u64::MAX.to_be_bytes());
        let reader = Reader { name: "t.mp4" };
        let err = boxes(&huge, &reader).unwrap_err();
        assert!(err.to_string().contains("claims"), "{err}");
    }
}
