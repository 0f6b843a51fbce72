//! gpsd's JSON protocol over TCP: `?WATCH={"enable":true,"json":true}`, then TPV reports
//! (time, position, mode, speed, track) merged with the latest SKY report (hdop, satellites
//! used) into fixes.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use model::{Fix, FixType, TimestampMs};
use serde::Deserialize;

use crate::{Error, Result};

#[derive(Debug, Deserialize)]
struct Report {
    class: String,
    #[serde(default)]
    mode: Option<u8>,
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    lat: Option<f64>,
    #[serde(default)]
    lon: Option<f64>,
    #[serde(default, rename = "altMSL")]
    alt_msl: Option<f64>,
    #[serde(default)]
    alt: Option<f64>,
    #[serde(default)]
    track: Option<f64>,
    #[serde(default)]
    speed: Option<f64>,
    #[serde(default)]
    status: Option<u8>,
    #[serde(default)]
    hdop: Option<f32>,
    #[serde(default, rename = "uSat")]
    used_satellites: Option<u8>,
    #[serde(default)]
    satellites: Option<Vec<SkySatellite>>,
}

#[derive(Debug, Deserialize)]
struct SkySatellite {
    #[serde(default)]
    used: bool,
}

/// Merges gpsd reports into fixes.
#[derive(Debug, Default)]
pub struct GpsdDecoder {
    hdop: Option<f32>,
    satellites: Option<u8>,
}

impl GpsdDecoder {
    /// One JSON line in; a fix out when it is a TPV with a position and a time.
    pub fn push(&mut self, line: &str) -> Option<Fix> {
        let report: Report = serde_json::from_str(line).ok()?;
        match report.class.as_str() {
            "SKY" => {
                self.hdop = report.hdop.or(self.hdop);
                self.satellites = report
                    .used_satellites
                    .or_else(|| {
                        report
                            .satellites
                            .as_ref()
                            .map(|s| s.iter().filter(|sat| sat.used).count().min(255) as u8)
                    })
                    .or(self.satellites);
                None
            }
            "TPV" => {
                let time = chrono::DateTime::parse_from_rfc3339(report.time.as_deref()?).ok()?;
                let fix_type = match (report.mode, report.status) {
                    (Some(3), Some(2)) => FixType::Dgps,
                    (Some(3), Some(3)) => FixType::RtkFixed,
                    (Some(3), Some(4)) => FixType::RtkFloat,
                    (Some(3), _) => FixType::Fix3d,
                    (Some(2), _) => FixType::Fix2d,
                    _ => FixType::NoFix,
                };
                Some(Fix {
                    time: TimestampMs(time.timestamp_millis()),
                    lat: report.lat?,
                    lon: report.lon?,
                    alt: report.alt_msl.or(report.alt),
                    heading: report.track.filter(|t| (0.0..360.0).contains(t)),
                    speed: report.speed,
                    fix_type,
                    satellites: self.satellites.unwrap_or(0),
                    hdop: self.hdop.unwrap_or(99.0),
                })
            }
            _ => None,
        }
    }
}

/// A connection to gpsd that yields fixes as they come.
#[derive(Debug)]
pub struct GpsdClient {
    address: String,
    reader: BufReader<TcpStream>,
    decoder: GpsdDecoder,
}

impl GpsdClient {
    /// Connects to `host:port` and asks for JSON reports.
    pub fn connect(address: &str, timeout: Duration) -> Result<Self> {
        let fail = |reason: String| Error::Gpsd {
            address: address.to_owned(),
            reason,
        };
        let mut stream = TcpStream::connect(address).map_err(|err| fail(err.to_string()))?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(|err| fail(err.to_string()))?;
        stream
            .write_all(b"?WATCH={\"enable\":true,\"json\":true}\n")
            .map_err(|err| fail(err.to_string()))?;
        Ok(Self {
            address: address.to_owned(),
            reader: BufReader::new(stream),
            decoder: GpsdDecoder::default(),
        })
    }

    /// The next fix; `Ok(None)` when gpsd closed the connection.
    pub fn next_fix(&mut self) -> Result<Option<Fix>> {
        let mut line = String::new();
        loop {
            line.clear();
            let read = self
                .reader
                .read_line(&mut line)
                .map_err(|err| Error::Gpsd {
                    address: self.address.clone(),
                    reason: err.to_string(),
                })?;
            if read == 0 {
                return Ok(None);
            }
            if let Some(fix) = self.decoder.push(line.trim()) {
                return Ok(Some(fix));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpv_and_sky_reports_merge_into_a_fix() {
        let mut decoder = GpsdDecoder::default();
        assert!(
            decoder
                .push(r#"{"class":"SKY","hdop":0.9,"uSat":11}"#)
                .is_none()
        );
        let fix = decoder
            .push(r#"{"class":"TPV","mode":3,"time":"2015-10-10T09:12:32.000Z","lat":48.21755833,"lon":8.41449500,"altMSL":765.8,"speed":0.0,"track":12.5}"#)
            .unwrap();
        assert_eq!(fix.time, TimestampMs(1_444_468_352_000));
        assert_eq!(fix.fix_type, FixType::Fix3d);
        assert_eq!(fix.satellites, 11);
        assert_eq!(fix.heading, Some(12.5));
        assert!(decoder.push(r#"{"class":"TPV","mode":1}"#).is_none());
        assert!(decoder.push("not json").is_none());
    }
}
