#!/usr/bin/env python3
"""Whole-process benchmarks of Waymark beside the tool a user would otherwise pick.

Each workload runs beside its peer in the same run: one warm-up of each, then ROUNDS rounds
alternating Waymark and the peer; the median of each side and the ratio are reported with
the machine, the versions and the exact commands. Called by scripts/bench, which installs
the peers and builds the binaries.

    scripts/bench.py --bin-dir target/release --rounds 7 --write BENCHMARKS.md
    scripts/bench.py --bin-dir target/debug --rounds 1 --write target/bench-quick.md   # CI

Rows (see issue "Benchmarks side by side with the peer tools"):
  agent   `waymark-agent import` of the real GoPro MP4 (GPMF GPS), 3 m spacing
          beside mapillary_tools 0.14.7 `video_process` (ffmpeg) on the same file and spacing
  vision  `waymark vision analyze` (quality, faces, plates, signs, privacy blur, re-encode)
          on real 1920x1080 JPEGs beside the floor: libjpeg-turbo djpeg | cjpeg of each
  tiles   `waymark tiles build` (coverage, sequences, frames, signs; z0-14) of a seeded map
          beside GDAL `ogr2ogr -f MVT` (z0-14) on the same frames and drives as GeoJSON
Then (scripts/bench_scale.py) the growth table at 10 k / 100 k / 1 M frames, tile serving
beside martin (under oha), search p50/p99 per query kind and the incremental tile update
beside the full rebuild on the largest map; and the agent's peak RSS while capturing 1080p.
"""

import argparse
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_scale
from bench_common import GNU_TIME, PEERS, ROOT, machine, peak_rss_mb, run, run_rss, thousands, version

VIDEO = ROOT / "datasets" / "video" / "gopro" / "gpmf_max-heromode.mp4"
STREET_PHOTO = ROOT / "datasets" / "images" / "geotagged" / "mapillary_DSC00001.JPG"
START = "<!-- scripts/bench: peers start -->"
END = "<!-- scripts/bench: peers end -->"


class AgentImport:
    """A row: ours() and peer() each run once and return (seconds, outputs made)."""

    name = "agent: import a GoPro MP4 with GPMF GPS, sample every 3 m, JPEG + EXIF"
    unit = "frames"

    def __init__(self, bins, scratch):
        self.agent = bins / "waymark-agent"
        self.scratch = scratch
        self.inbox = scratch / "video"
        self.inbox.mkdir()
        shutil.copy(VIDEO, self.inbox / VIDEO.name)
        self.round = 0
        self.rss = {"ours": [], "peer": []}

    def ours(self):
        self.round += 1
        home = self.scratch / f"agent-{self.round}"
        home.mkdir()
        (home / "agent.toml").write_text(
            "[agent]\ntrim_m = 0.0\n\n[agent.sampling]\nspacing_m = 3.0\nfast_spacing_m = 3.0\n"
        )
        run([str(self.agent), "--home", str(home), "keygen"])
        seconds, _, rss = run_rss([self.agent, "--home", home, "import", self.inbox / VIDEO.name])
        self.rss["ours"].append(rss)
        frames = len(list((home / "spool" / "frames").glob("*.jpg")))
        return seconds, frames

    def peer(self):
        self.round += 1
        out = self.scratch / f"mapillary-{self.round}"
        seconds, _, rss = run_rss([
            PEERS / "mapillary_tools", "video_process", self.inbox, out,
            "--video_sample_distance", "3",
        ])
        self.rss["peer"].append(rss)
        frames = len(list(out.rglob("*.jpg")))
        return seconds, frames

    def commands(self):
        return (
            f"`waymark-agent --home H import {VIDEO.relative_to(ROOT)}` with `spacing_m = 3`, "
            "`trim_m = 0` (a fresh H with a new key each round)",
            f"`mapillary_tools video_process IN OUT --video_sample_distance 3` (IN holds only "
            f"`{VIDEO.name}`)",
        )


class VisionPerFrame:
    name = "vision per frame: 1920×1080 real JPEGs, every check + privacy blur + re-encode"
    unit = "frames"

    def __init__(self, bins, scratch):
        self.waymark = bins / "waymark"
        self.scratch = scratch
        self.frames = scratch / "frames-1080p"
        self.frames.mkdir()
        # Five real 1920x1080 pictures: the street photo's four quarters and the whole
        # photo halved (ffmpeg, from Debian).
        cuts = {
            "quarter-nw": "crop=1920:1080:0:0",
            "quarter-ne": "crop=1920:1080:1920:0",
            "quarter-sw": "crop=1920:1080:0:1080",
            "quarter-se": "crop=1920:1080:1920:1080",
            "whole": "scale=1920:1080",
        }
        for name, vf in cuts.items():
            run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(STREET_PHOTO), "-vf", vf,
                 "-q:v", "2", str(self.frames / f"{name}.jpg")])
        self.files = sorted(self.frames.glob("*.jpg"))
        self.round = 0

    def ours(self):
        self.round += 1
        out = self.scratch / f"vision-{self.round}"
        seconds, _ = run([str(self.waymark), "vision", "analyze", "--out", str(out)]
                         + [str(f) for f in self.files])
        return seconds, len(list(out.glob("*.json")))

    def peer(self):
        self.round += 1
        out = self.scratch / f"floor-{self.round}"
        out.mkdir()
        script = " && ".join(
            f"djpeg '{f}' | cjpeg -quality 90 > '{out / f.name}'" for f in self.files
        )
        seconds, _ = run(script, shell=True)
        return seconds, len(list(out.glob("*.jpg")))

    def commands(self):
        return (
            "`waymark vision analyze --out O F1 … F5` (one process: models loaded once)",
            "`djpeg F | cjpeg -quality 90 > O/F` for each of the five files (libjpeg-turbo)",
        )


class TileBuild:
    unit = "tiles"

    def __init__(self, bins, scratch, drivers):
        self.waymark = bins / "waymark"
        self.scratch = scratch
        self.data = scratch / "data"
        self.drivers = drivers
        run([str(bins / "examples" / "seed_map"), str(self.data), str(drivers), "--geojson"])
        self.geojson = self.data / "map.geojson"
        with sqlite3.connect(self.data / "waymark.db") as db:
            self.frames = db.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
        frames = f"{self.frames:,}".replace(",", " ")
        self.name = f"tile building: {frames} frames of {drivers} real drives, every layer z0–14"
        self.round = 0

    def ours(self):
        seconds, _ = run([str(self.waymark), "--data", str(self.data), "tiles", "build"])
        return seconds, bench_scale.tile_count(self.data / "tiles.mbtiles")

    def peer(self):
        self.round += 1
        out = self.scratch / f"ogr2ogr-{self.round}.mbtiles"
        seconds, _ = run(["ogr2ogr", "-f", "MVT", str(out), str(self.geojson),
                          "-dsco", "FORMAT=MBTILES", "-dsco", "MINZOOM=0", "-dsco", "MAXZOOM=14"])
        return seconds, bench_scale.tile_count(out)

    def commands(self):
        return (
            f"`waymark --data D tiles build` (D seeded by `seed_map D {self.drivers} --geojson`: H3 "
            "coverage res 1–9, sequences, frames, signs; tippecanoe-style budgets; gzip MBTiles)",
            "`ogr2ogr -f MVT OUT.mbtiles D/map.geojson -dsco FORMAT=MBTILES -dsco MINZOOM=0 "
            "-dsco MAXZOOM=14` (the same frames as points and drives as lines, one layer)",
        )


def measure(workload, rounds):
    workload.ours()
    workload.peer()
    ours, peer = [], []
    counts = set()
    for _ in range(rounds):
        seconds, n = workload.ours()
        ours.append(seconds)
        counts.add(("ours", n))
        seconds, n = workload.peer()
        peer.append(seconds)
        counts.add(("peer", n))
    return statistics.median(ours), statistics.median(peer), dict(counts)


class AgentLiveMemory:
    """`waymark-agent run` on a live 1920x1080 camera (GStreamer's test pattern, stamped with
    the wall clock) with a serial NMEA receiver (a FIFO fed 5 fixes a second, 12 m/s due
    north), under GNU time: peak RSS while capturing."""

    def __init__(self, bins, scratch, seconds):
        self.agent = bins / "waymark-agent"
        self.scratch = scratch
        self.seconds = seconds

    @staticmethod
    def nmea(lat):
        def sentence(body):
            checksum = 0
            for byte in body.encode():
                checksum ^= byte
            return f"${body}*{checksum:02X}\r\n"

        now = time.gmtime()
        stamp = f"{now.tm_hour:02}{now.tm_min:02}{now.tm_sec:02}.{int(time.time() * 100) % 100:02}"
        lat_field = f"{int(lat):02}{(lat % 1) * 60:08.5f}"
        date = time.strftime("%d%m%y", now)
        return (sentence(f"GPGGA,{stamp},{lat_field},N,00422.20000,E,1,09,0.9,10.0,M,47.0,M,,")
                + sentence("GPGSA,A,3,01,02,03,04,05,06,07,08,09,,,,1.5,0.9,1.2")
                + sentence(f"GPRMC,{stamp},A,{lat_field},N,00422.20000,E,23.33,0.0,{date},,,A"))

    def measure(self):
        home = self.scratch / "agent-live"
        home.mkdir()
        run([str(self.agent), "--home", str(home), "keygen"])
        tty = home / "ttyGPS"
        run(["mkfifo", str(tty)])
        process = subprocess.Popen(
            [str(GNU_TIME), "-v", str(self.agent), "--home", str(home), "run", "--camera",
             "videotestsrc:1920x1080", "--gps", str(tty), "--duration-s", str(self.seconds),
             "--trim-m", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lat = 52.0
        with open(tty, "w") as receiver:  # blocks until the agent opens its end
            while process.poll() is None:
                try:
                    receiver.write(self.nmea(lat))
                    receiver.flush()
                except BrokenPipeError:
                    break
                time.sleep(0.2)
                lat += 12.0 * 0.2 / 111_195.0
        out, err = process.communicate()
        if process.returncode != 0:
            sys.exit(f"bench: the live agent failed:\n{out}\n{err}")
        frames = len(list((home / "spool" / "frames").glob("*.jpg")))
        return peak_rss_mb(err), frames


def memory_lines(agent_import, live, seconds):
    rss, frames = live
    return [
        "Peak RSS (`/usr/bin/time -v`), the medians over the rounds above for the import:",
        "",
        "| process | peak RSS | frames |",
        "|---|---:|---:|",
        f"| `waymark-agent run` capturing 1920×1080 live (GStreamer test pattern, serial NMEA "
        f"at 5 Hz, 12 m/s) for {seconds} s | {rss:.0f} MB | {frames} |",
        f"| `waymark-agent import` of the GoPro MP4 (the agent row above) | "
        f"{statistics.median(agent_import.rss['ours']):.0f} MB | |",
        f"| mapillary_tools `video_process` of the same file (the largest of Python and its "
        f"ffmpeg children) | {statistics.median(agent_import.rss['peer']):.0f} MB | |",
    ]




def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True, type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--write", required=True, type=Path)
    parser.add_argument("--drivers", type=int, default=20,
                        help="drives of the seeded map for the tile building row")
    parser.add_argument("--growth", default="9,84,838",
                        help="drives (1 194 frames each) of the growth table's maps; the last "
                             "is the map of the serving, search and incremental rows")
    parser.add_argument("--scale-rounds", type=int, default=3,
                        help="rounds of the growth table, serving and incremental rows")
    parser.add_argument("--serve-seconds", type=int, default=10)
    parser.add_argument("--live-seconds", type=int, default=20,
                        help="of live 1080p capture for the agent's peak RSS")
    parser.add_argument("--queries", type=int, default=200, help="search queries per kind")
    parser.add_argument("--new-frames", type=int, default=1000,
                        help="frames of the capture the incremental update renders")
    args = parser.parse_args()
    bins = args.bin_dir.resolve()

    rows = []
    with tempfile.TemporaryDirectory(prefix="waymark-bench-") as tmp:
        scratch = Path(tmp)
        makers = (
            lambda part: AgentImport(bins, part),
            lambda part: VisionPerFrame(bins, part),
            lambda part: TileBuild(bins, part, args.drivers),
        )
        for n, make in enumerate(makers):
            part = scratch / f"row-{n}"
            part.mkdir()
            workload = make(part)
            ours, peer, counts = measure(workload, args.rounds)
            rows.append((workload, ours, peer, counts))
            print(f"bench: {workload.name}: waymark {ours:.3f} s, peer {peer:.3f} s, outputs {counts}",
                  file=sys.stderr)
        live = AgentLiveMemory(bins, scratch, args.live_seconds).measure()

        maps = [bench_scale.SeededMap(bins, scratch, int(d), args.scale_rounds)
                for d in args.growth.split(",")]
        largest = maps[-1]
        serving = bench_scale.TileServing(largest, scratch, args.serve_seconds, args.scale_rounds)
        served = serving.measure()
        searched = bench_scale.search_latencies(largest, scratch, args.queries)
        updated = bench_scale.incremental(bins, largest, args.scale_rounds, args.new_frames)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    lines = [
        START,
        f"Measured {time.strftime('%Y-%m-%d')} at commit `{commit}` by `scripts/bench` "
        f"({args.rounds} round{'s' if args.rounds != 1 else ''} after one warm-up, alternating; medians of whole-process wall "
        f"time; binaries from `{args.bin_dir}`).",
        "",
        f"Machine: {machine()}. Versions: "
        f"{version([str(PEERS / 'mapillary_tools'), '--version'])}, "
        f"{' '.join(version(['ffmpeg', '-version']).split()[:3])}, "
        f"libjpeg-turbo {version(['dpkg-query', '-W', '-f=${Version}', 'libjpeg-turbo-progs'])}.",
        "",
        "| workload | Waymark | peer or floor | ratio (Waymark / peer) | outputs (Waymark, peer) |",
        "|---|---|---|---|---|",
    ]
    for workload, ours, peer, counts in rows:
        lines.append(
            f"| {workload.name} | {ours:.3f} s | {peer:.3f} s | {ours / peer:.2f}× | "
            f"{counts.get('ours', '?')}, {counts.get('peer', '?')} {workload.unit} |"
        )
    lines += ["", "Commands:"]
    for workload, *_ in rows:
        ours_cmd, peer_cmd = workload.commands()
        lines.append(f"- {workload.name.split(':')[0]}: Waymark {ours_cmd}; peer {peer_cmd}.")
    lines += ["", "### Agent memory", ""] + memory_lines(rows[0][0], live, args.live_seconds)
    lines += ["", "### Tile serving beside martin", ""] + serving.lines(served)
    lines += ["", "### Search", ""] + bench_scale.search_lines(largest, searched, args.queries)
    lines += ["", "### Incremental tile update", ""]
    lines += bench_scale.incremental_lines(updated, args.scale_rounds)
    lines += [
        "", "### Growth", "",
        f"Maps of {', '.join(thousands(m.frames) for m in maps)} frames: real Munich drives "
        "seeded by `seed_map D N` (through the pipeline worker's store calls and the search "
        "index; vision is per frame, constant, in the row above, and left out here). Tile "
        f"build (`waymark --data D tiles build`) and reward close (`waymark --data D rewards "
        f"close --epoch W`, from the same database each round) are medians of "
        f"{args.scale_rounds}; ingest is one run.",
        "",
    ] + bench_scale.growth_lines(maps)
    lines.append(END)
    block = "\n".join(lines) + "\n"

    target = args.write
    if target.exists() and START in target.read_text():
        text = target.read_text()
        text = re.sub(re.escape(START) + ".*?" + re.escape(END) + "\n?", lambda _: block, text,
                      flags=re.S)
        target.write_text(text)
    elif target.exists():
        target.write_text(target.read_text().rstrip("\n") + "\n\n" + block)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block)
    print(block)


if __name__ == "__main__":
    main()
