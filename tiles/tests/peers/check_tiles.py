"""Reads Waymark's tiles with tools nobody at Waymark wrote, and prints what they saw as JSON.

    check_tiles.py mvt FILE...        mapbox-vector-tile decodes each (gzip) tile
    check_tiles.py pmtiles ARCHIVE    the pmtiles package reads the header, metadata and every tile

The Rust test that runs this compares the output with what it expects.
"""
import gzip
import json
import sys


def decode_mvt(paths):
    import mapbox_vector_tile

    out = {}
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        tile = mapbox_vector_tile.decode(data)
        out[path] = {
            name: {
                "extent": layer["extent"],
                "features": len(layer["features"]),
                "types": sorted({f["geometry"]["type"] for f in layer["features"]}),
                "keys": sorted({k for f in layer["features"] for k in f["properties"]}),
            }
            for name, layer in tile.items()
        }
    return out


def read_pmtiles(path):
    from pmtiles.reader import MmapSource, Reader, all_tiles

    with open(path, "rb") as f:
        source = MmapSource(f)
        reader = Reader(source)
        header = reader.header()
        metadata = reader.metadata()
        tiles = list(all_tiles(source))
    return {
        "spec_version": header["version"],
        "tile_type": str(header["tile_type"]),
        "tile_compression": str(header["tile_compression"]),
        "min_zoom": header["min_zoom"],
        "max_zoom": header["max_zoom"],
        "tiles": len(tiles),
        "zxy": sorted([list(zxy) for zxy, _ in tiles]),
        "vector_layers": [layer["id"] for layer in metadata.get("vector_layers", [])],
    }


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "mvt":
        result = decode_mvt(args)
    elif mode == "pmtiles":
        result = read_pmtiles(args[0])
    else:
        raise SystemExit(f"unknown mode {mode}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
