#!/usr/bin/env python3
"""Builds the committed seed corpora in fuzz/seeds/<target>/ from the real files in
datasets/: small cuts (libFuzzer works best on inputs of a few KB) that are still valid
files of their format. Rerun after a dataset changes: python3 fuzz/make_seeds.py"""

import json
import re
import shutil
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "datasets"
SEEDS = ROOT / "fuzz" / "seeds"


def put(target, name, data):
    folder = SEEDS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def nmea():
    for log in sorted((DATA / "gps/gpsd_nmea").glob("*.log")):
        lines = log.read_bytes().splitlines(keepends=True)
        put("nmea", log.stem, b"".join(lines[:80])[:6000])


def gpsd():
    put("gpsd", "sky_tpv", "\n".join([
        '{"class":"VERSION","release":"3.25","proto_major":3,"proto_minor":15}',
        '{"class":"SKY","hdop":0.9,"uSat":11}',
        '{"class":"TPV","mode":3,"status":2,"time":"2015-10-10T09:12:32.000Z","lat":48.21755833,'
        '"lon":8.41449500,"altMSL":765.8,"speed":0.0,"track":12.5}',
        '{"class":"SKY","satellites":[{"used":true},{"used":false},{"used":true}]}',
        '{"class":"TPV","mode":1}',
    ]))


def gpx():
    for path in sorted((DATA / "gps").glob("*.gpx")):
        text = path.read_text(encoding="utf-8")
        points = list(re.finditer(r"<trkpt\b.*?</trkpt>", text, re.S))
        if len(points) > 12:
            cut_from, cut_to = points[12].start(), points[-1].end()
            text = text[:cut_from] + text[cut_to:]
        put("gpx", path.stem, text)


def fit_crc(data):
    table = [0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
             0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400]
    crc = 0
    for byte in data:
        for nibble in (byte & 0xF, byte >> 4):
            tmp = table[crc & 0xF]
            crc = (crc >> 4) & 0x0FFF
            crc = crc ^ tmp ^ table[nibble]
    return crc


def fit():
    """The VIRB file cut after whole records: its definitions, the first data messages and the
    first few `gps_metadata` (global 160) and `record` (20) messages, re-headered and re-CRCed."""
    raw = (DATA / "gps/gpsbabel_garmin-virb-ultra-30.fit").read_bytes()
    header_size = raw[0]
    data_size = struct.unpack_from("<I", raw, 4)[0]
    pos, end = header_size, header_size + data_size
    definitions = {}  # local type -> (global, size)
    kept = bytearray()
    wanted = {160: 6, 20: 6}
    others = 60
    while pos < end:
        start = pos
        head = raw[pos]
        pos += 1
        if head & 0x80:  # compressed timestamp header
            local = (head >> 5) & 0x3
            glob, size = definitions[local]
            pos += size
        elif head & 0x40:  # definition
            local = head & 0xF
            arch = raw[pos + 1]
            glob = struct.unpack_from("<H" if arch == 0 else ">H", raw, pos + 2)[0]
            fields = raw[pos + 4]
            pos += 5
            size = sum(raw[pos + 3 * i + 1] for i in range(fields))
            pos += 3 * fields
            if head & 0x20:
                dev = raw[pos]
                pos += 1
                size += sum(raw[pos + 3 * i + 1] for i in range(dev))
                pos += 3 * dev
            definitions[local] = (glob, size)
            kept += raw[start:pos]
            continue
        else:
            local = head & 0xF
            glob, size = definitions[local]
            pos += size
        if wanted.get(glob, 0) > 0:
            wanted[glob] -= 1
            kept += raw[start:pos]
        elif glob not in wanted and others > 0:
            others -= 1
            kept += raw[start:pos]
    header = bytearray(raw[:header_size])
    struct.pack_into("<I", header, 4, len(kept))
    if header_size == 14:
        struct.pack_into("<H", header, 12, fit_crc(header[:12]))
    body = bytes(header) + bytes(kept)
    put("fit", "virb_ultra_30_cut", body + struct.pack("<H", fit_crc(body)))


def gpmf_payload():
    for path in sorted((DATA / "video/gopro/raw_payloads").glob("*.raw")):
        put("gpmf_payload", path.stem, path.read_bytes())


def box(kind, body):
    return struct.pack(">I", 8 + len(body)) + kind + body


def full_box(kind, version, body):
    return box(kind, bytes([version, 0, 0, 0]) + body)


def mp4_gpmf():
    """A small GoPro-like MP4: `ftyp`, a `moov` with one `gpmd` track of two samples (two real
    GPMF payloads) and the `mdat` holding them; plus the start of the Udacity MP4 (its
    `ftyp`, `moov` and an empty `mdat`: a video without a GPMF track)."""
    payloads = [(DATA / "video/gopro/raw_payloads" / n).read_bytes()
                for n in ("gpmf_hero5.raw", "gpmf_hero6.raw")]
    ftyp = box(b"ftyp", b"mp41" + struct.pack(">I", 0) + b"mp41")

    def moov(first_offset):
        stsd = full_box(b"stsd", 0, struct.pack(">I", 1) + box(b"gpmd", bytes(6) + struct.pack(">H", 1)))
        stts = full_box(b"stts", 0, struct.pack(">III", 1, len(payloads), 1001))
        stsz = full_box(b"stsz", 0, struct.pack(">II", 0, len(payloads))
                        + b"".join(struct.pack(">I", len(p)) for p in payloads))
        stsc = full_box(b"stsc", 0, struct.pack(">IIII", 1, 1, len(payloads), 1))
        stco = full_box(b"stco", 0, struct.pack(">II", 1, first_offset))
        stbl = box(b"stbl", stsd + stts + stsz + stsc + stco)
        minf = box(b"minf", full_box(b"gmhd", 0, b"") + stbl)
        mdhd = full_box(b"mdhd", 0, struct.pack(">IIIIHH", 0, 0, 1000, 1001 * len(payloads), 0, 0))
        hdlr = full_box(b"hdlr", 0, b"\0\0\0\0meta" + bytes(12) + b"GoPro MET\0")
        trak = box(b"trak", full_box(b"tkhd", 0, bytes(80)) + box(b"mdia", mdhd + hdlr + minf))
        return box(b"moov", full_box(b"mvhd", 0, bytes(96)) + trak)

    offset = len(ftyp) + len(moov(0)) + 8
    put("mp4_gpmf", "gopro_two_samples", ftyp + moov(offset) + box(b"mdat", b"".join(payloads)))
    udacity = (DATA / "video/udacity_solidWhiteRight.mp4").read_bytes()
    pos, head = 0, b""
    while pos < len(udacity):
        size, kind = struct.unpack_from(">I4s", udacity, pos)
        if kind == b"mdat":
            break
        head += udacity[pos:pos + size]
        pos += size
    put("mp4_gpmf", "udacity_no_gpmf", head + box(b"mdat", b""))


def jpeg_head(path, scan_bytes=256):
    """A real JPEG's header segments up to and into the scan, then the end-of-image marker."""
    data = path.read_bytes()
    pos = 2
    while pos + 4 <= len(data):
        marker = data[pos + 1]
        length = struct.unpack_from(">H", data, pos + 2)[0]
        if marker == 0xDA:
            return data[:pos + 2 + length + scan_bytes] + b"\xff\xd9"
        pos += 2 + length
    return data


def jpegs():
    images = [
        DATA / "images/udacity_lanes/solidWhiteCurve.jpg",
        DATA / "images/opencv/white_car.jpg",
        DATA / "images/geotagged/mapillary_test_exif.jpg",
        DATA / "images/geotagged/mapillary_DSC00001.JPG",
    ]
    for image in images:
        head = jpeg_head(image)
        if len(head) > 70_000:
            continue
        for target in ("jpeg_header", "exif_photo", "geotag", "vision_jpeg", "vision_turbojpeg"):
            put(target, image.stem, head)
    # The decoder also converts CMYK (Adobe, inverted): a print-software JPEG's head.
    cmyk = ROOT / "vision/tests/data/solidYellowLeft_cmyk.jpg"
    put("vision_turbojpeg", cmyk.stem, jpeg_head(cmyk))


def manifest():
    frames = [
        {"sha256": "%064x" % (i + 1),
         "fix": {"time": 1_700_000_000_000 + 8000 * i, "lat": 48.1372 + i * 1e-4, "lon": 11.5755,
                 "alt": 519.5, "heading": 87.25, "speed": 12.5, "fix_type": kind,
                 "satellites": 9, "hdop": 0.9}}
        for i, kind in enumerate(["fix3d", "dgps", "rtk_fixed"])
    ]
    body = {"format_version": 1,
            "device_key": "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "capture_id": "0190b2a4-7c1e-7d3e-9f00-5a1b2c3d4e5f", "sequence_number": 1,
            "firmware": "waymark-agent 0.1.0", "camera": "udacity dashcam", "frames": frames}
    put("manifest", "three_frames", json.dumps(body, separators=(",", ":")))
    frames[0]["fix"] = {k: v for k, v in frames[0]["fix"].items()
                        if k not in ("alt", "heading", "speed")}
    put("manifest", "minimal_fix", json.dumps(body))


def ids():
    for name, text in [
        ("frame", "3f2a91c0" + "0" * 56),
        ("uuid", "0190b2a4-7c1e-7d3e-9f00-5a1b2c3d4e5f"),
        ("key", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
        ("signature", "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                      "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        ("address", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
        ("path_trick", "..%2F..%2Fetc%2Fpasswd"),
    ]:
        put("ids", name, text)


def tile_coord():
    for name, text in [("z14", "14/8529/5974"), ("z0", "0/0/0"), ("z22", "22/4194303/4194303")]:
        put("tile_coord", name, text)


def search():
    for name, text in [
        ("sign", "q=speed+limit+50&kind=sign&limit=10"),
        ("place_time", "near=48.137,11.575&after=2023-11-14&before=1700000000000"),
        ("cell", "cell=891f8d7a49bffff&contributor=0190b2a4-7c1e-7d3e-9f00-5a1b2c3d4e5f"),
        ("nested", "q=" + "(" * 40 + "stop" + ")" * 40),
        ("encoded", "q=%C3%A9t%C3%A9+stop&kind=frame"),
    ]:
        put("search", name, text)


def agent_settings():
    put("agent_settings", "example.toml", (ROOT / "dashcam-agent/agent.example.toml").read_bytes())


if __name__ == "__main__":
    shutil.rmtree(SEEDS, ignore_errors=True)
    for make in (nmea, gpsd, gpx, fit, gpmf_payload, mp4_gpmf, jpegs, manifest, ids, tile_coord,
                 search, agent_settings):
        make()
    for folder in sorted(SEEDS.iterdir()):
        files = list(folder.iterdir())
        print(f"{folder.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")
