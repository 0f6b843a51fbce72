"""What every part of scripts/bench shares: running a command (wall time, peak RSS), the
machine, tool versions, free ports and a server started and stopped by PID."""

import http.client
import os
import platform
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / ".tools" / "peers" / "bin"
CARGO_PEERS = ROOT / ".tools" / "cargo" / "bin"
GNU_TIME = Path("/usr/bin/time")


def run(command, cwd=None, shell=False):
    """Runs a command to completion and returns its wall time and output; fails loudly."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, shell=shell, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"bench: {command} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout + done.stderr


def run_rss(command):
    """Runs a command under GNU time; returns (wall seconds, stdout, peak RSS in MB)."""
    started = time.perf_counter()
    done = subprocess.run([str(GNU_TIME), "-v"] + [str(c) for c in command],
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"bench: {command} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout, peak_rss_mb(done.stderr)


def peak_rss_mb(gnu_time_report):
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", gnu_time_report)
    if not found:
        sys.exit(f"bench: no peak RSS in GNU time's report:\n{gnu_time_report}")
    return int(found.group(1)) / 1024


def version(command):
    try:
        out = subprocess.run(command, capture_output=True, text=True).stdout + ""
        return out.strip().splitlines()[0] if out.strip() else "?"
    except OSError:
        return "not installed"


def machine():
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def thousands(n):
    return f"{n:,}".replace(",", " ")


class Server:
    """A server process on a loopback port, stopped by PID when the block ends."""

    def __init__(self, command, port, ready_path, log):
        self.command = [str(c) for c in command]
        self.port = port
        self.ready_path = ready_path
        self.log = log

    def __enter__(self):
        self.out = open(self.log, "w")
        self.process = subprocess.Popen(self.command, stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"bench: {self.command} exited:\n{Path(self.log).read_text()}")
            try:
                if self.get(self.ready_path)[0] < 500:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.__exit__(None, None, None)
        sys.exit(f"bench: {self.command} did not answer {self.ready_path} in 120 s")

    def get(self, path, connection=None):
        """GET on a keep-alive connection (or a new one); returns (status, body bytes)."""
        conn = connection or http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
        response = conn.getresponse()
        body = response.read()
        if connection is None:
            conn.close()
        return response.status, body

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.out.close()
