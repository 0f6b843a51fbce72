//! NMEA 0183 from a receiver or a log: GGA, RMC, GSA and VTG from any talker (GP, GN, GL,
//! GA, BD…), checksums verified by the `nmea` crate. Sentences of one epoch (same UTC time)
//! are merged into one [`Fix`]; the date comes from RMC. Bad checksums, binary noise and
//! unknown sentences are counted and skipped, never guessed at.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use model::{Fix, FixType, TimestampMs};
use nmea::ParseResult;
use nmea::sentences::FixType as NmeaFixType;
use nmea::sentences::gsa::GsaMode2;
use nmea::sentences::rmc::RmcStatusOfFix;

const KNOTS_TO_MPS: f64 = 0.514_444;

/// Why one line is not a usable sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("checksum mismatch: the sentence says {found:02X}, its bytes give {calculated:02X}")]
    Checksum { calculated: u8, found: u8 },
    #[error("not ASCII text (binary noise or another protocol)")]
    NotText,
    #[error("not an NMEA sentence: {0}")]
    Malformed(String),
}

/// What reading a stream of lines found, beside the fixes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NmeaStats {
    pub sentences: usize,
    pub bad_checksums: usize,
    pub noise: usize,
    pub malformed: usize,
}

/// One parsed sentence of the four kinds the agent uses; others are `Other`.
#[derive(Debug)]
pub enum Sentence {
    Gga(nmea::sentences::GgaData),
    Rmc(nmea::sentences::RmcData),
    /// Only the fix mode and hdop of a GSA (its PRN list is not needed).
    Gsa {
        mode: GsaMode2,
        hdop: Option<f32>,
    },
    Vtg(nmea::sentences::VtgData),
    Other,
}

/// Parses one line (leading garbage before `$` and trailing CR/LF are ignored).
pub fn parse_line(raw: &[u8]) -> Result<Sentence, LineError> {
    let start = raw
        .iter()
        .position(|&b| b == b'$' || b == b'!')
        .ok_or_else(|| LineError::Malformed("no `$`".into()))?;
    let line = &raw[start..];
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let text = std::str::from_utf8(&line[..end]).map_err(|_| LineError::NotText)?;
    if !text.is_ascii() || text.bytes().any(|b| b.is_ascii_control()) {
        return Err(LineError::NotText);
    }
    match nmea::parse_str(text) {
        Ok(ParseResult::GGA(data)) => Ok(Sentence::Gga(data)),
        Ok(ParseResult::RMC(data)) => Ok(Sentence::Rmc(data)),
        Ok(ParseResult::GSA(data)) => Ok(Sentence::Gsa {
            mode: data.mode2,
            hdop: data.hdop,
        }),
        Ok(ParseResult::VTG(data)) => Ok(Sentence::Vtg(data)),
        Ok(_) => Ok(Sentence::Other),
        Err(nmea::Error::ChecksumMismatch { calculated, found }) => {
            Err(LineError::Checksum { calculated, found })
        }
        Err(nmea::Error::Unsupported(_)) | Err(nmea::Error::DisabledSentence) => {
            Ok(Sentence::Other)
        }
        Err(other) => Err(LineError::Malformed(format!("{other:?}"))),
    }
}

/// The epoch being assembled.
#[derive(Debug, Default, Clone)]
struct Epoch {
    time: Option<NaiveTime>,
    lat: Option<f64>,
    lon: Option<f64>,
    alt: Option<f64>,
    quality: Option<NmeaFixType>,
    rmc_valid: Option<bool>,
    satellites: Option<u8>,
    hdop: Option<f32>,
    speed: Option<f64>,
    course: Option<f64>,
}

/// Merges sentences into fixes; feed lines in order with [`NmeaAssembler::push`].
#[derive(Debug, Default)]
pub struct NmeaAssembler {
    epoch: Epoch,
    date: Option<NaiveDate>,
    mode: Option<GsaMode2>,
    pending_without_date: Vec<Epoch>,
    pub stats: NmeaStats,
}

impl NmeaAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one line; returns the fixes it completed (usually zero or one).
    pub fn push(&mut self, raw: &[u8]) -> Vec<Fix> {
        let sentence = match parse_line(raw) {
            Ok(sentence) => sentence,
            Err(LineError::Checksum { .. }) => {
                self.stats.bad_checksums += 1;
                return Vec::new();
            }
            Err(LineError::NotText) => {
                self.stats.noise += 1;
                return Vec::new();
            }
            Err(LineError::Malformed(_)) => {
                self.stats.malformed += 1;
                return Vec::new();
            }
        };
        self.stats.sentences += 1;
        let mut done = Vec::new();
        let time = match &sentence {
            Sentence::Gga(gga) => gga.fix_time,
            Sentence::Rmc(rmc) => rmc.fix_time,
            _ => None,
        };
        if let Some(time) = time
            && self.epoch.time.is_some_and(|current| current != time)
        {
            done.extend(self.flush());
        }
        if let Some(time) = time {
            self.epoch.time = Some(time);
        }
        match sentence {
            Sentence::Gga(gga) => {
                self.epoch.lat = gga.latitude.or(self.epoch.lat);
                self.epoch.lon = gga.longitude.or(self.epoch.lon);
                self.epoch.alt = gga.altitude.map(f64::from);
                self.epoch.quality = gga.fix_type;
                self.epoch.satellites = gga.fix_satellites.map(|n| n.min(255) as u8);
                self.epoch.hdop = gga.hdop.or(self.epoch.hdop);
            }
            Sentence::Rmc(rmc) => {
                self.epoch.lat = self.epoch.lat.or(rmc.lat);
                self.epoch.lon = self.epoch.lon.or(rmc.lon);
                self.epoch.rmc_valid = Some(rmc.status_of_fix != RmcStatusOfFix::Invalid);
                self.epoch.speed = rmc.speed_over_ground.map(|k| f64::from(k) * KNOTS_TO_MPS);
                self.epoch.course = rmc.true_course.map(f64::from);
                if rmc.fix_date.is_some() {
                    self.date = rmc.fix_date;
                }
            }
            Sentence::Gsa { mode, hdop } => {
                self.mode = Some(mode);
                self.epoch.hdop = self.epoch.hdop.or(hdop);
            }
            Sentence::Vtg(vtg) => {
                self.epoch.speed = self
                    .epoch
                    .speed
                    .or(vtg.speed_over_ground.map(|k| f64::from(k) * KNOTS_TO_MPS));
                self.epoch.course = self.epoch.course.or(vtg.true_course.map(f64::from));
            }
            Sentence::Other => {}
        }
        done
    }

    /// Completes the last epoch (end of a file).
    pub fn finish(&mut self) -> Vec<Fix> {
        self.flush()
    }

    fn flush(&mut self) -> Vec<Fix> {
        let epoch = std::mem::take(&mut self.epoch);
        if epoch.time.is_none() || epoch.lat.is_none() || epoch.lon.is_none() {
            return Vec::new();
        }
        let Some(date) = self.date else {
            // Fixes before the first RMC wait for its date.
            self.pending_without_date.push(epoch);
            return Vec::new();
        };
        let mut epochs = std::mem::take(&mut self.pending_without_date);
        epochs.push(epoch);
        epochs
            .into_iter()
            .filter_map(|epoch| self.to_fix(&epoch, date))
            .collect()
    }

    fn to_fix(&self, epoch: &Epoch, date: NaiveDate) -> Option<Fix> {
        let time = NaiveDateTime::new(date, epoch.time?).and_utc();
        let fix_type = match (epoch.quality, epoch.rmc_valid) {
            (Some(NmeaFixType::Invalid), _) | (None, Some(false)) | (None, None) => FixType::NoFix,
            (Some(NmeaFixType::Estimated | NmeaFixType::Manual | NmeaFixType::Simulation), _) => {
                FixType::NoFix
            }
            _ if self.mode == Some(GsaMode2::Fix2D) => FixType::Fix2d,
            (Some(NmeaFixType::DGps), _) => FixType::Dgps,
            (Some(NmeaFixType::Rtk), _) => FixType::RtkFixed,
            (Some(NmeaFixType::FloatRtk), _) => FixType::RtkFloat,
            // GPS/PPS quality with a 3D GSA mode, or no GSA at all: a 3D fix.
            _ => FixType::Fix3d,
        };
        let fix = Fix {
            time: TimestampMs(time.timestamp_millis()),
            lat: epoch.lat?,
            lon: epoch.lon?,
            alt: epoch.alt,
            heading: epoch
                .course
                .filter(|_| epoch.speed.unwrap_or(0.0) > 0.5)
                .map(|c| c.rem_euclid(360.0))
                .filter(|c| *c < 360.0),
            speed: epoch.speed,
            fix_type,
            satellites: epoch.satellites.unwrap_or(0),
            hdop: epoch.hdop.unwrap_or(99.0),
        };
        // A corrupted line still passes its checksum once in 256: a position off the globe
        // (minutes past 60, degrees past 180) is dropped here instead of making the server
        // refuse the whole capture it would land in.
        fix.validate().is_ok().then_some(fix)
    }
}

/// Reads a whole NMEA log (comment lines `#…` skipped); returns its fixes and what was
/// skipped.
pub fn parse_log(bytes: &[u8]) -> (Vec<Fix>, NmeaStats) {
    let mut assembler = NmeaAssembler::new();
    let mut fixes = Vec::new();
    for line in bytes.split(|&b| b == b'\n') {
        if line.starts_with(b"#") || line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        fixes.extend(assembler.push(line));
    }
    fixes.extend(assembler.finish());
    (fixes, assembler.stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../datasets/gps/gpsd_nmea/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn a_bad_checksum_is_named() {
        let good = b"$GNGGA,091232.000,4813.0535,N,00824.8697,E,1,12,0.7,765.8,M,47.4,M,,0000*45";
        assert!(matches!(parse_line(good), Ok(Sentence::Gga(_))));
        let bad = b"$GNGGA,091232.000,4813.0535,N,00824.8697,E,1,12,0.7,765.8,M,47.4,M,,0000*46";
        assert_eq!(
            parse_line(bad).unwrap_err(),
            LineError::Checksum {
                calculated: 0x45,
                found: 0x46
            }
        );
        assert_eq!(
            parse_line(b"$GPGGA,\xb5b\x01\x07*00").unwrap_err(),
            LineError::NotText
        );
    }

    /// `line` with its `*hh` checksum.
    fn sentence(body: &str) -> String {
        let sum = body.bytes().fold(0u8, |acc, b| acc ^ b);
        format!("${body}*{sum:02X}\n")
    }

    /// Found by `scripts/fuzz` (target `nmea`): a GGA whose longitude field is garbage with a
    /// valid checksum gave a fix at 599° W, which the server then refuses with the whole
    /// capture.
    #[test]
    fn a_position_off_the_globe_is_dropped_not_passed_on() {
        let log = [
            sentence(
                "GPGGA,132820.60,4134.49821229,N,09430335.51845,W,2,09,1.0,278.020,M,-31.442,M,7.6,0133",
            ),
            sentence(
                "GPRMC,132820.60,A,4134.49821229,N,09345.03351845,W,3.252,92.308,180320,11.5985,E,D",
            ),
            sentence(
                "GPGGA,132820.70,4134.49822493,N,09345.03347183,W,2,09,1.0,278.020,M,-31.442,M,7.6,0133",
            ),
        ]
        .concat();
        let (fixes, _) = parse_log(log.as_bytes());
        assert_eq!(fixes.len(), 1, "{fixes:?}");
        assert_eq!(fixes[0].validate(), Ok(()));
        assert!((fixes[0].lon + (93.0 + 45.033_471_83 / 60.0)).abs() < 1e-9);
    }

    #[test]
    fn the_ublox_log_gives_3d_fixes_with_date_satellites_and_hdop() {
        let (fixes, stats) = parse_log(&dataset("nl2008u.log"));
        assert!(!fixes.is_empty(), "{stats:?}");
        let first = fixes[0];
        // $GNRMC,091232.000,...,101015 and $GNGGA 4813.0535,N,00824.8697,E,1,12,0.7,765.8
        assert_eq!(first.time, TimestampMs(1_444_468_352_000));
        assert!((first.lat - (48.0 + 13.0535 / 60.0)).abs() < 1e-9);
        assert!((first.lon - (8.0 + 24.8697 / 60.0)).abs() < 1e-9);
        assert_eq!(first.fix_type, FixType::Fix3d);
        assert_eq!(first.satellites, 12);
        assert!((first.hdop - 0.7).abs() < 1e-6);
        assert_eq!(first.alt, Some(765.8f32 as f64));
    }

    #[test]
    fn logs_with_binary_noise_and_bad_checksums_still_give_their_good_fixes() {
        let mut noise_seen = 0;
        for name in [
            "bundg_zeus_9.log",
            "haicom-305N.log",
            "nl2008u.log",
            "nmea-rtk.log",
            "quectel-l76k-nmea.log",
        ] {
            let (fixes, stats) = parse_log(&dataset(name));
            noise_seen += stats.noise + stats.bad_checksums + stats.malformed;
            for fix in &fixes {
                assert_eq!(fix.validate(), Ok(()), "{name}");
            }
        }
        assert!(noise_seen > 0, "the gpsd logs hold some noise");
        // The RTK log: differential quality 2 → Dgps.
        let (rtk, _) = parse_log(&dataset("nmea-rtk.log"));
        assert_eq!(rtk[0].fix_type, FixType::Dgps);
        // The Haicom log starts without a fix (quality 0, RMC status V).
        let (haicom, _) = parse_log(&dataset("haicom-305N.log"));
        assert_eq!(haicom[0].fix_type, FixType::NoFix);
    }
}
