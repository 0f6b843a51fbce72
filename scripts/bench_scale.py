"""The map-size parts of scripts/bench: the growth table (ingest commit, tile build, reward
close at 10 k / 100 k / 1 M frames), tile serving beside martin, search p50/p99 per query
kind, and the incremental tile update beside the full rebuild — all on maps seeded by the
`tiles` example `seed_map` (real Munich drives, one frame per fix)."""

import contextlib
import json
import re
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path

from bench_common import CARGO_PEERS, Server, free_port, run, run_rss, thousands, version

MUNICH_FIXES = 1194  # fixes of datasets/gps/barefoot_munich_x0001-001.json


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def wait_idle(pid, quiet_ticks=5, timeout=300):
    """Waits until a process has used under `quiet_ticks` of CPU (1/100 s) two seconds
    running: a server that loads its map or models at start is measured once settled."""
    stat = Path(f"/proc/{pid}/stat")

    def ticks():
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    deadline = time.monotonic() + timeout
    last, calm = ticks(), 0
    while time.monotonic() < deadline and calm < 2:
        time.sleep(1)
        now = ticks()
        calm = calm + 1 if now - last < quiet_ticks else 0
        last = now


class SeededMap:
    """A data directory seeded with `drivers` real drives, with its growth-table figures."""

    def __init__(self, bins, scratch, drivers, rounds):
        self.waymark = bins / "waymark"
        self.bins = bins
        self.dir = scratch / f"map-{drivers}"
        self.drivers = drivers
        self.seed_s, out, self.seed_rss = run_rss([bins / "examples" / "seed_map", self.dir, drivers])
        self.epoch = re.search(r"epoch (\d{4}-W\d\d)", out).group(1)
        with sqlite3.connect(self.dir / "waymark.db") as db:
            self.frames = db.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
        self.db_mb = sum(f.stat().st_size for f in self.dir.glob("waymark.db*")) / 1e6
        builds = [run_rss([self.waymark, "--data", self.dir, "tiles", "build"]) for _ in range(rounds)]
        self.build_s = statistics.median(b[0] for b in builds)
        self.build_rss = max(b[2] for b in builds)
        self.tiles = tile_count(self.dir / "tiles.mbtiles")
        closes = [self.close_once() for _ in range(rounds)]
        self.close_s = statistics.median(c[0] for c in closes)
        self.close_rss = max(c[2] for c in closes)
        print(f"bench: map of {self.frames} frames: seed {self.seed_s:.1f} s, build "
              f"{self.build_s:.1f} s, close {self.close_s:.1f} s", file=sys.stderr)

    def close_once(self):
        """Closes the seeded epoch from the same starting state each round: the database
        as seeded and built, no published manifest."""
        snapshot = self.dir.parent / f"{self.dir.name}.db-before-close"
        if not snapshot.exists():
            snapshot.mkdir()
            for f in self.dir.glob("waymark.db*"):
                shutil.copy2(f, snapshot / f.name)
        else:
            for f in self.dir.glob("waymark.db*"):
                f.unlink()
            for f in snapshot.iterdir():
                shutil.copy2(f, self.dir / f.name)
            shutil.rmtree(self.dir / "blobs" / "rewards", ignore_errors=True)
        result = run_rss([self.waymark, "--data", self.dir, "rewards", "close", "--epoch", self.epoch])
        if "already" in result[1]:
            sys.exit(f"bench: the close of {self.epoch} did nothing:\n{result[1]}")
        return result

    def serve(self, log):
        port = free_port()
        return Server([self.waymark, "--data", self.dir, "serve", "--listen", f"127.0.0.1:{port}"],
                      port, "/health", log)


def tile_count(mbtiles):
    with sqlite3.connect(mbtiles) as db:
        return db.execute("SELECT COUNT(*) FROM tiles").fetchone()[0]


def tile_mix(mbtiles):
    """Every tile of the file as (z, x, y) in XYZ order, and their mean stored size."""
    with sqlite3.connect(mbtiles) as db:
        rows = db.execute(
            "SELECT zoom_level, tile_column, tile_row, length(tile_data) FROM tiles").fetchall()
    coords = [(z, x, (1 << z) - 1 - row) for z, x, row, _ in rows]
    return sorted(coords), statistics.mean(size for *_, size in rows)


def growth_lines(maps):
    lines = [
        "| frames | ingest commit + search index | tile build z0–14 (tiles) | reward close | "
        "peak RSS: build, close | database |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for m in maps:
        lines.append(
            f"| {thousands(m.frames)} | {m.seed_s:.2f} s ({thousands(round(m.frames / m.seed_s))} "
            f"frames/s) | {m.build_s:.2f} s ({m.tiles}) | {m.close_s:.2f} s | "
            f"{m.build_rss:.0f} MB, {m.close_rss:.0f} MB | {m.db_mb:.0f} MB |"
        )
    return lines


# --- tile serving beside martin ------------------------------------------------------------

class TileServing:
    """Waymark's `/tiles/{z}/{x}/{y}.mvt` and martin's `/{source}/{z}/{x}/{y}` on the same
    MBTiles, each under oha: saturation throughput, then latency at one fixed rate for both
    (latency-corrected)."""

    def __init__(self, seeded, scratch, seconds, rounds):
        self.seeded = seeded
        self.scratch = scratch
        self.seconds = seconds
        self.rounds = rounds
        self.martin = CARGO_PEERS / "martin"
        self.oha = CARGO_PEERS / "oha"
        self.coords, self.mean_size = tile_mix(seeded.dir / "tiles.mbtiles")
        # martin serves a copy, so the two servers never share a file.
        self.copy = scratch / "served" / "waymark.mbtiles"
        self.copy.parent.mkdir()
        shutil.copy2(seeded.dir / "tiles.mbtiles", self.copy)

    def available(self):
        return self.martin.exists() and self.oha.exists()

    def url_file(self, server, path):
        """The mix as oha's `--urls-from-file` reads it: one URL a line."""
        urls = self.scratch / f"urls-{server.port}.txt"
        urls.write_text("".join(f"http://127.0.0.1:{server.port}{path(*c)}\n" for c in self.coords))
        return urls

    def check_mix(self, server, url):
        """Every tile of the mix answers 200 with a body (both servers, before any load)."""
        conn = server.connection()
        for z, x, y in self.coords:
            status, body = server.get(url(z, x, y), conn)
            if status != 200 or not body:
                sys.exit(f"bench: {url(z, x, y)} answered {status} ({len(body)} bytes)")
        conn.close()

    def load(self, server, urls, rate=None):
        command = [self.oha, "--no-tui", "--output-format", "json", "-z", f"{self.seconds}s",
                   "-c", "16", "--urls-from-file", urls]
        if rate:
            command += ["-q", str(rate), "--latency-correction"]
        _, out = run([str(c) for c in command])
        report = json.loads(out[out.index("{"):])
        codes = report.get("statusCodeDistribution", {})
        if set(codes) - {"200"}:
            sys.exit(f"bench: oha saw {codes} from the URLs in {urls}")
        summary = report["summary"]
        latency = report["latencyPercentiles"]
        return {
            "rps": summary["requestsPerSec"],
            "mbps": summary["sizePerSec"] / 1e6,
            "p50_ms": latency["p50"] * 1000,
            "p99_ms": latency["p99"] * 1000,
        }

    def metered(self):
        """A second `waymark serve` on the same map with metering on: a consumer's account,
        a key in every URL, credits granted by the operator's command; the key's rate limit
        raised out of the way (the load is one key)."""
        config = self.scratch / "metered.toml"
        config.write_text("[metering]\nenabled = true\nkey_rate_per_second = 1e12\n"
                          "key_burst = 1e12\n")
        port = free_port()
        return Server([self.seeded.waymark, "--config", config, "--data", self.seeded.dir,
                       "serve", "--listen", f"127.0.0.1:{port}"], port, "/health",
                      self.scratch / "metered-serve.log")

    def consumer_key(self, server):
        conn = server.connection()
        conn.request("POST", "/api/v1/contributors", body=b'{"name":"bench consumer"}',
                     headers={"Content-Type": "application/json"})
        account = json.loads(conn.getresponse().read())
        conn.request("POST", "/api/v1/keys", body=b"",
                     headers={"Authorization": f"Bearer {account['token']}"})
        key = json.loads(conn.getresponse().read())["key"]
        conn.close()
        run([str(self.seeded.waymark), "--data", str(self.seeded.dir), "credits", "grant",
             "--account", account["id"], "1000000000000000"])
        return key

    def martin_server(self):
        """martin on the copy of the MBTiles; nothing (a no-op block) when not installed."""
        if not self.martin.exists():
            return contextlib.nullcontext()
        port = free_port()
        return Server([self.martin, "--listen-addresses", f"127.0.0.1:{port}", self.copy],
                      port, "/health", self.scratch / "martin.log")

    def measure(self):
        with self.seeded.serve(self.scratch / "serve.log") as ours, \
                self.martin_server() as peer, self.metered() as metered:
            wait_idle(ours.process.pid)
            wait_idle(metered.process.pid)
            key = self.consumer_key(metered)
            paths = {
                "ours": lambda z, x, y: f"/tiles/{z}/{x}/{y}.mvt",
                "metered": lambda z, x, y: f"/tiles/{z}/{x}/{y}.mvt?key={key}",
                "peer": lambda z, x, y: f"/waymark/{z}/{x}/{y}",
            }
            servers = {"ours": ours, "metered": metered, "peer": peer}
            servers = {side: server for side, server in servers.items() if server is not None}
            for side, server in servers.items():
                self.check_mix(server, paths[side])
            if not self.available():
                return None
            urls = {side: self.url_file(servers[side], paths[side]) for side in servers}
            # Warm-up, which also fixes the rate of the latency runs: half the slowest
            # server's saturation throughput, the same for all.
            rate = int(min(self.load(servers[side], urls[side])["rps"] for side in servers) / 2)
            runs = {side: [] for side in servers}
            for _ in range(self.rounds):
                for side, server in servers.items():
                    saturated = self.load(server, urls[side])
                    paced = self.load(server, urls[side], rate)
                    runs[side].append((saturated, paced))
        median = lambda side, part, key: statistics.median(r[part][key] for r in runs[side])  # noqa: E731
        return {
            side: {
                "rps": median(side, 0, "rps"),
                "mbps": median(side, 0, "mbps"),
                "p50_ms": median(side, 1, "p50_ms"),
                "p99_ms": median(side, 1, "p99_ms"),
            }
            for side in runs
        } | {"rate": rate}

    def lines(self, result):
        tiles = f"{len(self.coords)} tiles of the {thousands(self.seeded.frames)}-frame map"
        if result is None:
            who = "both servers" if self.martin.exists() else "`waymark serve`"
            return [f"Tile serving: skipped (martin and oha are not installed; `scripts/bench` "
                    f"installs them). The mix ({tiles}) answered 200 from {who}, with metering "
                    "off and on."]
        rate = result["rate"]

        def row(name, r):
            return (f"| {name} | {thousands(round(r['rps']))} | {r['mbps']:.1f} | "
                    f"{r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms |")

        ours, metered, peer = result["ours"], result["metered"], result["peer"]
        martin = version([str(self.martin), "--version"]).split()[-1]
        return [
            f"Tile serving: {tiles} (z0–14, mean {self.mean_size / 1000:.1f} KB gzipped), each "
            f"request one of them (oha's `--urls-from-file`); {version([str(self.oha), '--version'])}, "
            f"16 connections, {self.seconds} s a run, on loopback beside the server on the same 2 "
            f"cores, medians of {self.rounds} alternating rounds. Throughput at saturation; latency "
            f"at {rate} req/s for all (`-q` with `--latency-correction`, so a stall counts against "
            "every request it delayed). Metering on: the same map served by a second `waymark "
            "serve` with `[metering] enabled = true`, every URL carrying a consumer's key, so "
            "tiles above z12 are checked (key, scope, rate, credits), counted in memory and "
            "priced into the database every 10 s while the load runs.",
            "",
            f"| server | req/s | MB/s | p50 at {rate} req/s | p99 at {rate} req/s |",
            "|---|---:|---:|---:|---:|",
            row("`waymark serve`", ours),
            row("`waymark serve`, metering on", metered),
            row(f"martin {martin}", peer),
            f"| metering on / off | {metered['rps'] / ours['rps']:.2f}× | | "
            f"{metered['p50_ms'] / ours['p50_ms']:.2f}× | {metered['p99_ms'] / ours['p99_ms']:.2f}× |",
            f"| Waymark / martin | {ours['rps'] / peer['rps']:.2f}× | | "
            f"{ours['p50_ms'] / peer['p50_ms']:.2f}× | {ours['p99_ms'] / peer['p99_ms']:.2f}× |",
        ]


# --- search ----------------------------------------------------------------------------------

def search_latencies(seeded, scratch, queries):
    """p50/p99 of `GET /api/v1/search` per query kind, sequential on one keep-alive
    connection, against `waymark serve` on the seeded map."""
    with seeded.serve(scratch / "search-serve.log") as server:
        wait_idle(server.process.pid)
        conn = server.connection()
        status, body = server.get("/api/v1/search?q=speed%20limit&limit=1", conn)
        if status != 200:
            sys.exit(f"bench: search answered {status}: {body[:300]!r}")
        first = json.loads(body)["results"][0]
        t0 = first["captured_at"]
        kinds = {
            "sign words (`q=speed limit`)": "q=speed%20limit",
            "place (`near=lat,lon`, res-9 cell)": f"near={first['lat']:.5f},{first['lon']:.5f}",
            "contributor": f"contributor={first['contributor']}",
            "time window (10 min)": f"after={t0}&before={t0 + 600_000}",
            "words + place + time": f"q=speed%20limit&near={first['lat']:.5f},{first['lon']:.5f}"
                                    f"&after={t0 - 3_600_000}",
        }
        rows = []
        for kind, query in kinds.items():
            path = f"/api/v1/search?{query}&limit=100"
            for _ in range(max(5, queries // 10)):  # warm-up
                server.get(path, conn)
            times, hits = [], 0
            for _ in range(queries):
                started = time.perf_counter()
                status, body = server.get(path, conn)
                times.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    sys.exit(f"bench: {path} answered {status}: {body[:300]!r}")
                hits = len(json.loads(body)["results"])
            rows.append((kind, percentile(times, 50), percentile(times, 99), hits))
        conn.close()
    return rows


def search_lines(seeded, rows, queries):
    lines = [
        f"Search over the {thousands(seeded.frames)}-frame map (tantivy; one document per frame "
        f"and per sign, a sign every 25 frames): {queries} queries of each kind after a warm-up, "
        "one after another on a keep-alive connection to `waymark serve`, `limit=100`, wall "
        "time of the whole HTTP request.",
        "",
        "| query kind | p50 | p99 | results |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {kind} | {p50:.2f} ms | {p99:.2f} ms | {hits} |" for kind, p50, p99, hits in rows]
    return lines


# --- incremental tile update ---------------------------------------------------------------

def incremental(bins, seeded, rounds, new_frames):
    """The tiles example `tiles_bench` on the seeded map: full builds, then updates after
    one new capture of `new_frames` frames each, in one process (as `waymark serve` keeps
    its map in memory)."""
    _, out = run([bins / "examples" / "tiles_bench", "0", str(rounds), "--data", seeded.dir,
                  "--new-frames", str(new_frames)])
    return json.loads(out.strip().splitlines()[-1])


def incremental_lines(result, rounds):
    return [
        f"Incremental tile update after one new capture of {thousands(result['new_frames'])} "
        f"frames on the {thousands(result['frames'])}-frame map ({thousands(result['cells'])} "
        f"cells), beside the full rebuild of the same map (`tiles_bench --data`, medians of "
        f"{rounds}; the full rebuild includes reading the map from SQLite, the update starts "
        "from the map `waymark serve` keeps in memory):",
        "",
        "| step | tiles rendered | time | ratio (update / rebuild) |",
        "|---|---:|---:|---:|",
        f"| full rebuild | {result['full_tiles']} | {result['full_s']:.2f} s | |",
        f"| incremental update | {result['update_tiles']} ({result['update_written']} changed) | "
        f"{result['update_s']:.2f} s | {result['update_s'] / result['full_s']:.3f}× |",
    ]
