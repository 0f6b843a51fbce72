//! What a geotagged JPEG says about itself: the reader lives in `model::photo` (ingest
//! reads frames with it too); the agent's import uses it for folders of photos.

pub use model::photo::{PhotoTags, read_photo};

#[cfg(test)]
mod tests {
    use model::{Fix, FixType, TimestampMs};

    use super::*;

    fn dataset(relative: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../datasets/images/{relative}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn what_the_agent_writes_it_reads_back() {
        let fix = Fix {
            time: TimestampMs(1_574_120_714_123),
            lat: -33.126_771_2,
            lon: -117.327_337_5,
            alt: Some(-12.5),
            heading: Some(271.25),
            speed: Some(13.4),
            fix_type: FixType::Fix3d,
            satellites: 9,
            hdop: 1.5,
        };
        let jpeg = dataset("udacity_lanes/solidWhiteRight.jpg");
        let tagged = crate::geotag::tag_jpeg(&jpeg, &fix, "test camera").unwrap();
        let tags = read_photo(&tagged);
        let back = tags.fix.unwrap();
        assert_eq!(back.time, fix.time);
        assert_eq!(tags.taken, Some(fix.time));
        assert!((back.lat - fix.lat).abs() < 1e-7 && (back.lon - fix.lon).abs() < 1e-7);
        assert_eq!(back.alt, Some(-12.5));
        assert!((back.heading.unwrap() - 271.25).abs() < 1e-9);
        assert!((back.speed.unwrap() - 13.4).abs() < 1e-3);
        assert_eq!((back.satellites, back.fix_type), (9, FixType::Fix3d));
        assert!((back.hdop - 1.5).abs() < 1e-6);
    }
}
