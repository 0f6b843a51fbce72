//! The `z/x/y` of a tile request (`/tiles/{z}/{x}/{y}.mvt`). `tiles/src/coord.rs` is compiled
//! in as it is: the tiles crate itself pulls in the store, SQLite and actix-web.
#![no_main]
#![allow(dead_code)]

#[path = "../../tiles/src/coord.rs"]
mod coord;

use coord::TileCoord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '/');
    let (Some(z), Some(x), Some(y)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    if let Ok(tile) = TileCoord::parse(z, x, y) {
        assert_eq!(TileCoord::new(tile.z, tile.x, tile.y), Ok(tile));
        assert_eq!(TileCoord::from_tms(tile.z, tile.x, tile.tms_row()), tile);
        let bounds = tile.bounds();
        let (lon, lat) = (
            (bounds.west + bounds.east) / 2.0,
            (bounds.south + bounds.north) / 2.0,
        );
        assert_eq!(TileCoord::containing(lon, lat, tile.z), tile, "{bounds:?}");
    }
});
