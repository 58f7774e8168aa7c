#!/usr/bin/env python3
"""Inlet beside other SMTP receivers, measured in one run on this machine.

Installs what it needs into a scratch folder (Debian's postfix package, unpacked, for smtp-source and smtp-sink;
Haraka from npm with a queue plugin of this project's that writes and fsyncs each message before its 250), starts
every system on loopback ports, drives them with identical smtp-source runs alternated A B C A B C, stops them, and
prints a table: messages per second (median and spread), CPU seconds per 1,000 messages, peak resident memory, the
backlog, and the ratios Inlet's acceptance is held to. An Inlet in async mode answers 250 before it processes: the
backlog is how many of a run's messages were still to be processed at its last 250. Each run waits for its
backlog to be processed before the next begins, and counts that processing's CPU in its own.

  bench/compare.py                 # the headline cell: 1 KB messages, 10 sessions, connection reuse
  bench/compare.py --matrix        # 1 KB and 100 KB; 1, 10 and 50 sessions; reuse and a connection per message
  bench/compare.py --rounds 5 --messages 4000
  bench/compare.py --systems inlet,inlet-inline,inlet-pg,inlet-pg-inline   # the embedded store beside PostgreSQL + S3
  bench/compare.py --claims        # the work queue's claim rate, SQLite and PostgreSQL, 1 to 64 workers
  bench/compare.py --systems haraka-fsync,inlet --baseline main   # the working tree beside main, in the same rounds

Systems:
  smtp-sink      Postfix's smtp-sink: accepts and discards (the ceiling)
  haraka-fsync   Haraka 3.3.4 with a queue plugin that fsyncs each message before next(OK) (the durable peer)
  inlet          Inlet accepting into its durable spool (async mode, a rule for the recipient, no actions)
  inlet-inline   Inlet in inline mode: a rule runs a synchronous Node function (CONTINUE) and an S3 action before the 250
  inlet-pg       as inlet, with its state in PostgreSQL (a cluster this script makes) and its spool in an S3 bucket
                 (a second Inlet's S3 API): the configuration of one node of several
  inlet-pg-inline  as inlet-inline, on PostgreSQL and S3 (the S3 action's bucket is on the same S3 service)
  inlet-200rules as inlet, with 199 rules for other domains ahead of the one that matches (SES's limit is 200)
  inlet-accept   as inlet, with processing held to one worker: acceptance with the cores (nearly) to itself, the
                 backlog processed afterwards
"""

import argparse
import glob
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HARAKA_VERSION = "3.3.4"

FSYNC_PLUGIN = r"""
// A durable queue for the comparison: the message is written and fsynced before Haraka answers 250.
const fs = require('fs');
const path = require('path');

exports.register = function () {
  this.dir = process.env.HARAKA_QUEUE_DIR;
  fs.mkdirSync(this.dir, { recursive: true });
};

exports.hook_rcpt = function (next) {
  next(OK);
};

exports.hook_queue = function (next, connection) {
  const file = path.join(this.dir, connection.transaction.uuid + '.eml');
  connection.transaction.message_stream.get_data((data) => {
    fs.open(file, 'w', (err, fd) => {
      if (err) return next(DENYSOFT, err.message);
      fs.write(fd, data, (err) => {
        if (err) return next(DENYSOFT, err.message);
        fs.fsync(fd, (err) => {
          fs.close(fd, () => next(err ? DENYSOFT : OK));
        });
      });
    });
  });
};
"""

INLINE_FUNCTION = "exports.handler = async () => ({ disposition: 'CONTINUE' });\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.recv(512)
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port} within {timeout} s")


class NxdomainResolver:
    """A DNS server on loopback that answers every question with NXDOMAIN at once: the senders of the load have no
    SPF, DKIM or DMARC records, and Inlet's verdicts (computed before the 250 in inline mode) cost what a resolver
    answering from its cache costs, not a timeout."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                query, address = self.sock.recvfrom(4096)
            except OSError:
                return
            if len(query) < 12:
                continue
            # Same id and question; flags: response, recursion desired and available, RCODE 3 (NXDOMAIN).
            answer = query[:2] + bytes([0x81 | (query[2] & 0x01), 0x83]) + query[4:6] + b"\x00\x00\x00\x00\x00\x00" + query[12:]
            self.sock.sendto(answer, address)


def run(command, **kwargs):
    print("+", " ".join(command), file=sys.stderr)
    subprocess.run(command, check=True, **kwargs)


def install_postfix(scratch):
    folder = os.path.join(scratch, "postfix")
    if os.path.exists(os.path.join(folder, "usr/sbin/smtp-source")):
        return folder
    os.makedirs(scratch, exist_ok=True)
    for deb in glob.glob(os.path.join(scratch, "postfix_*.deb")):
        os.remove(deb)
    try:
        run(["apt-get", "download", "postfix"], cwd=scratch)
    except subprocess.CalledProcessError:
        # A fresh machine has no package lists yet.
        run(["apt-get", "update", "-qq"])
        run(["apt-get", "download", "postfix"], cwd=scratch)
    deb = glob.glob(os.path.join(scratch, "postfix_*.deb"))[0]
    run(["dpkg", "-x", deb, folder])
    return folder


def install_haraka(scratch):
    folder = os.path.join(scratch, "haraka")
    haraka = os.path.join(folder, "node_modules/.bin/haraka")
    if not os.path.exists(haraka):
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "package.json"), "w") as f:
            f.write('{"private": true}\n')
        run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", f"Haraka@{HARAKA_VERSION}"], cwd=folder)
    return haraka


# When the last previous run's folder with many files was removed (time.monotonic()), or None.
_last_mass_removal = None

# How long file creation stays slow after many files were removed (see remove_previous_run).
INODE_REUSE_SECONDS = 60


def remove_previous_run(folder):
    """Removes what a previous run left in `folder`. ext4 without a journal (this kind of machine's root file
    system) will not reuse an inode freed in the last 30-35 seconds, and every file created meanwhile scans past
    the freed ones (find_inode_bit, recently_deleted): right after the removal of 60,000 files a create took 660 µs
    against 30-40. So the measured rounds wait until such a removal is a minute old (settle_after_removals), or a
    system that creates a file per message (Haraka's queue, the S3 action's objects) is measured on a slowed disk."""
    global _last_mass_removal
    if not os.path.isdir(folder):
        return
    files = sum(len(f) for _, _, f in os.walk(folder))
    shutil.rmtree(folder, ignore_errors=True)
    if files >= 1000:
        _last_mass_removal = time.monotonic()


def settle_after_removals():
    if _last_mass_removal is None:
        return
    left = INODE_REUSE_SECONDS - (time.monotonic() - _last_mass_removal)
    if left > 0:
        print(f"waiting {left:.0f} s more: the previous run's files were removed less than {INODE_REUSE_SECONDS} s ago", flush=True)
        time.sleep(left)


def build_inlet(scratch, revision=None):
    """The working tree's Inlet, or the one of a git revision (exported into the scratch folder), published."""
    source, out = ROOT, os.path.join(scratch, "inlet-bin")
    if revision:
        source, out = os.path.join(scratch, "baseline-src"), os.path.join(scratch, "baseline-bin")
        shutil.rmtree(source, ignore_errors=True)
        os.makedirs(source)
        archive = subprocess.run(["git", "-C", ROOT, "archive", revision], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", source], input=archive, check=True)
    run(["dotnet", "publish", os.path.join(source, "src/Inlet"), "-c", "Release", "-o", out, "--nologo", "-v", "quiet"])
    return os.path.join(out, "inlet.dll")


class Process:
    """A system under test: its process (and children) for CPU and memory readings."""

    def __init__(self, name, command, env=None, cwd=None, port=None):
        self.name = name
        self.port = port
        self.count_backlog = None  # for an Inlet: how many messages it has still to process, read from its state
        log = open(os.path.join(cwd or tempfile.gettempdir(), f"{name}.log"), "w")
        self.proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(port)

    def tree(self):
        pids, pending = [], [self.proc.pid]
        while pending:
            pid = pending.pop()
            pids.append(pid)
            for task in glob.glob(f"/proc/{pid}/task/*/children"):
                try:
                    pending.extend(int(c) for c in open(task).read().split())
                except OSError:
                    pass
        return pids

    def cpu_seconds(self):
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.tree():
            try:
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            except (OSError, IndexError):
                pass
        return total / ticks

    def rss_mb(self):
        total = 0
        for pid in self.tree():
            try:
                for line in open(f"/proc/{pid}/status"):
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024

    def backlog(self):
        """Messages accepted and not yet processed, or None for a system that is not an Inlet."""
        return self.count_backlog() if self.count_backlog else None

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def start_sink(postfix, scratch):
    port = free_port()
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(postfix, "usr/lib/postfix"))
    command = [os.path.join(postfix, "usr/sbin/smtp-sink")]
    if os.geteuid() == 0:
        command += ["-u", "nobody"]  # smtp-sink refuses to run as root
    return Process("smtp-sink", command + [f"127.0.0.1:{port}", "1024"], env=env, cwd=scratch, port=port)


def start_haraka(haraka, scratch):
    port = free_port()
    home = os.path.join(scratch, "haraka-home")
    remove_previous_run(home)
    subprocess.run([haraka, "-i", home], check=True, stdout=subprocess.DEVNULL)
    os.makedirs(os.path.join(home, "plugins"), exist_ok=True)
    with open(os.path.join(home, "plugins/inlet_fsync_queue.js"), "w") as f:
        f.write(FSYNC_PLUGIN)
    with open(os.path.join(home, "config/plugins"), "w") as f:
        f.write("inlet_fsync_queue\n")
    with open(os.path.join(home, "config/smtp.ini"), "w") as f:
        f.write(f"[main]\nlisten=127.0.0.1:{port}\n")
    with open(os.path.join(home, "config/log.ini"), "w") as f:
        f.write("[main]\nlevel=warn\n")
    with open(os.path.join(home, "config/me"), "w") as f:
        f.write("haraka.localhost\n")
    queue = os.path.join(scratch, "haraka-queue")
    remove_previous_run(queue)
    env = dict(os.environ, HARAKA_QUEUE_DIR=queue)
    return Process("haraka-fsync", [haraka, "-c", home], env=env, cwd=scratch, port=port)


def start_inlet(inlet_dll, scratch, inline, dns_port, shared=None, extra_rules=0, workers=None, suffix="", postgres=None):
    """shared: (PostgreSQL connection string, S3 port) for a node that keeps its state and spool there, in the
    cluster `postgres`; extra_rules:
    rules for other domains ahead of the matching one; suffix: what tells a baseline build's folder apart."""
    name = ("inlet-pg" if shared else "inlet") + ("-inline" if inline else "") + (f"-{extra_rules + 1}rules" if extra_rules else "") + ("-accept" if workers else "") + suffix
    folder = os.path.join(scratch, name)
    remove_previous_run(folder)
    os.makedirs(os.path.join(folder, "fn"))
    with open(os.path.join(folder, "fn/index.js"), "w") as f:
        f.write(INLINE_FUNCTION)
    port, http = free_port(), free_port()
    actions = """
        Actions:
          - LambdaAction: { FunctionArn: cont, InvocationType: RequestResponse }
          - S3Action: { BucketName: mail }""" if inline else ""
    store = ""
    if shared:
        store = f"""
State: {{ Type: postgres, ConnectionString: "{shared[0]}", NodeId: {name} }}
Spool: {{ Type: s3, Bucket: {name}-spool }}
BucketStore: {{ Type: s3, ServiceUrl: "http://127.0.0.1:{shared[1]}", AccessKeyId: inlet, SecretAccessKey: inlet-secret }}"""
    others = "".join(f"""
      - Name: other-{i}
        Enabled: true
        Recipients: [other-{i}.example.org, user@other-{i}.example.net]""" for i in range(extra_rules))
    processing = f"\nProcessing: {{ Workers: {workers} }}" if workers else ""
    config = f"""{store}{processing}
Smtp:
  Mode: {"inline" if inline else "async"}
  MaxConnectionsPerClient: 200
Authentication:
  DnsServers: [127.0.0.1:{dns_port}]   # answers NXDOMAIN at once (see NxdomainResolver)
Functions:
  - FunctionName: cont
    Runtime: nodejs20.x
    Handler: index.handler
    Code: {folder}/fn
    ReservedConcurrentExecutions: 50
ReceiptRuleSets:
  - RuleSetName: main
    Rules:{others}
      - Name: accept
        Enabled: true
        Recipients: [example.com]{actions}
ActiveReceiptRuleSet: main
"""
    with open(os.path.join(folder, "inlet.yaml"), "w") as f:
        f.write(config)
    command = ["dotnet", inlet_dll, "serve", "--config", os.path.join(folder, "inlet.yaml"), "--data-dir", os.path.join(folder, "data"),
               "--smtp", f"127.0.0.1:{port}", "--http", f"127.0.0.1:{http}", "--https", "off"] + warnings_only(inlet_dll)
    process = Process(name, command, cwd=folder, port=port)
    if shared:
        process.count_backlog = lambda: postgres.scalar(shared[0], BACKLOG_SQL)
    else:
        database = os.path.join(folder, "data", "inlet.db")
        process.count_backlog = lambda: sqlite_scalar(database, BACKLOG_SQL)
    return process


def warnings_only(inlet_dll):
    """Inlet logs warnings and errors only, as Haraka does here (level=warn): neither system's per-message log line
    is measured. A build from before --log-level logs as it did."""
    if inlet_dll not in _LOG_LEVEL_KNOWN:
        help_text = subprocess.run(["dotnet", inlet_dll, "serve", "--help"], capture_output=True, text=True).stdout
        _LOG_LEVEL_KNOWN[inlet_dll] = "--log-level" in help_text
    return ["--log-level", "Warning"] if _LOG_LEVEL_KNOWN[inlet_dll] else []


_LOG_LEVEL_KNOWN = {}


BACKLOG_SQL = "SELECT count(*) FROM messages WHERE status IN ('queued', 'processing', 'retrying')"


def sqlite_scalar(database, sql):
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        return connection.execute(sql).fetchone()[0]
    finally:
        connection.close()


class Postgres:
    """A PostgreSQL cluster in the scratch folder on a loopback port, from Debian's server binaries, run as the
    postgres user when this script runs as root (PostgreSQL refuses root)."""

    def __init__(self, scratch):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise RuntimeError("PostgreSQL's server binaries are not installed (apt-get install postgresql)")
        self.bin = os.path.dirname(bins[-1])
        self.folder = os.path.join(scratch, "postgres")
        shutil.rmtree(self.folder, ignore_errors=True)
        os.makedirs(self.folder)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self.port = free_port()
        self.pg("initdb", "-D", self.data, "-U", "inlet", "-A", "trust", "-E", "UTF8", "--locale=C")
        self.pg("pg_ctl", "-D", self.data, "-l", os.path.join(self.folder, "server.log"), "-w", "start",
                "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=300")
        self.databases = 0

    @property
    def data(self):
        return os.path.join(self.folder, "data")

    def pg(self, program, *arguments):
        command = [os.path.join(self.bin, program), *arguments]
        if os.geteuid() == 0:
            command = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

    def scalar(self, connection_string, sql):
        """One value, read with psql from the database of a connection string that new_database() gave."""
        fields = dict(part.split("=", 1) for part in connection_string.split(";"))
        result = subprocess.run([os.path.join(self.bin, "psql"), "-h", "127.0.0.1", "-p", fields["Port"], "-U", fields["Username"],
                                 "-d", fields["Database"], "-tAc", sql], check=True, capture_output=True, text=True)
        return int(result.stdout.strip())

    def new_database(self):
        self.databases += 1
        name = f"bench{self.databases}"
        self.pg("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "inlet", name)
        return f"Host=127.0.0.1;Port={self.port};Username=inlet;Database={name}"

    def stop(self):
        try:
            self.pg("pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop")
        except subprocess.CalledProcessError:
            pass


def start_s3(inlet_dll, scratch):
    """A plain Inlet whose S3 API holds the spool bucket and the S3 action's bucket of the PostgreSQL systems."""
    folder = os.path.join(scratch, "inlet-s3")
    remove_previous_run(folder)
    os.makedirs(folder)
    port, http = free_port(), free_port()
    command = ["dotnet", inlet_dll, "serve", "--data-dir", os.path.join(folder, "data"),
               "--smtp", f"127.0.0.1:{port}", "--http", f"127.0.0.1:{http}", "--https", "off"]
    process = Process("inlet-s3", command, cwd=folder, port=port)
    process.http = http
    return process


class PeakRss:
    """The highest resident memory of a system's process tree, sampled every `interval` seconds until stop()."""

    def __init__(self, system, interval):
        self.mb = system.rss_mb()
        self._done = threading.Event()

        def sample():
            while not self._done.wait(interval):
                self.mb = max(self.mb, system.rss_mb())

        self._sampler = threading.Thread(target=sample, daemon=True)
        self._sampler.start()

    def stop(self):
        self._done.set()
        self._sampler.join()
        return self.mb


def drive(postfix, system, messages, sessions, size, reuse):
    """One smtp-source run against a system; returns messages per second, CPU seconds and peak RSS."""
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(postfix, "usr/lib/postfix"))
    command = [os.path.join(postfix, "usr/sbin/smtp-source"), "-s", str(sessions), "-m", str(messages), "-l", str(size),
               "-f", "load@sender.test", "-t", "user@example.com"]
    if reuse:
        command.append("-d")
    command.append(f"127.0.0.1:{system.port}")
    peak = PeakRss(system, 0.2)
    cpu = system.cpu_seconds()
    started = time.perf_counter()
    result = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=900)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        peak.stop()
        raise RuntimeError(f"smtp-source against {system.name} failed: {result.stderr.strip()[:400]}")
    # Acceptance is counted to the last 250; the processing of what it left behind is waited for, and its CPU
    # counted, so that it neither runs into the next system's turn nor goes missing from this one's cost.
    backlog = system.backlog()
    remaining, deadline = backlog, time.perf_counter() + 300
    while remaining and time.perf_counter() < deadline:
        time.sleep(0.05)
        remaining = system.backlog()
    if remaining:
        raise RuntimeError(f"{system.name} still had {remaining} messages to process 300 s after the run")
    cpu = system.cpu_seconds() - cpu
    peak.stop()
    return messages / elapsed, cpu / messages * 1000, peak.mb, backlog


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scratch", default=os.path.join(tempfile.gettempdir(), "inlet-compare"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=2000, help="per run of 1 KB messages (100 KB runs send a quarter)")
    parser.add_argument("--matrix", action="store_true")
    parser.add_argument("--systems", default="smtp-sink,haraka-fsync,inlet,inlet-inline")
    parser.add_argument("--claims", action="store_true", help="measure the work queue's claim rate instead")
    parser.add_argument("--baseline", metavar="REVISION",
                        help="also run each Inlet system as built from this git revision, named system@REVISION, in the same rounds")
    parser.add_argument("--warmup", type=int, default=5000, help="messages sent to each system before anything is counted")
    parser.add_argument("--warmup-seconds", type=float, default=30, help="and for at least this long (more messages in runs of 2,000)")
    args = parser.parse_args()

    if args.claims:
        postgres = Postgres(args.scratch)
        try:
            env = dict(os.environ, INLET_BENCH_POSTGRES=postgres.new_database())
            print(f"\n{time.strftime('%Y-%m-%d')} · {os.cpu_count()} cores · {machine()} · commit {commit()}")
            subprocess.run(["dotnet", "run", "-c", "Release", "--project", os.path.join(HERE, "Inlet.Benchmarks"), "--", "claims", "4000", "1,4,16,64"], env=env, check=True)
        finally:
            postgres.stop()
        return

    postfix = install_postfix(args.scratch)
    haraka = install_haraka(args.scratch)
    inlet_dll = build_inlet(args.scratch)
    baseline_dll = build_inlet(args.scratch, args.baseline) if args.baseline else None
    resolver = NxdomainResolver()

    cells = [(1024, 10, True)]
    if args.matrix:
        cells = [(size, sessions, reuse) for size in (1024, 100 * 1024) for sessions in (1, 10, 50) for reuse in (True, False)]

    names = [n for n in args.systems.split(",") if n]
    postgres = s3 = None
    if any(n.startswith("inlet-pg") for n in names):
        postgres = Postgres(args.scratch)
        s3 = start_s3(inlet_dll, args.scratch)

    def inlet_starters(dll, suffix=""):
        return {
            "inlet": lambda: start_inlet(dll, args.scratch, inline=False, dns_port=resolver.port, suffix=suffix),
            "inlet-inline": lambda: start_inlet(dll, args.scratch, inline=True, dns_port=resolver.port, suffix=suffix),
            "inlet-accept": lambda: start_inlet(dll, args.scratch, inline=False, dns_port=resolver.port, workers=1, suffix=suffix),
            "inlet-200rules": lambda: start_inlet(dll, args.scratch, inline=False, dns_port=resolver.port, extra_rules=199, suffix=suffix),
            "inlet-pg": lambda: start_inlet(dll, args.scratch, inline=False, dns_port=resolver.port, shared=(postgres.new_database(), s3.http), suffix=suffix, postgres=postgres),
            "inlet-pg-inline": lambda: start_inlet(dll, args.scratch, inline=True, dns_port=resolver.port, shared=(postgres.new_database(), s3.http), suffix=suffix, postgres=postgres),
        }

    starters = {
        "smtp-sink": lambda: start_sink(postfix, args.scratch),
        "haraka-fsync": lambda: start_haraka(haraka, args.scratch),
        **inlet_starters(inlet_dll),
    }
    if baseline_dll:
        # Each Inlet system once more, from the baseline's build, right after it in every round.
        baseline = inlet_starters(baseline_dll, "-baseline")
        names = [m for n in names for m in ([n, f"{n}@{args.baseline}"] if n in baseline else [n])]
        starters.update({f"{n}@{args.baseline}": start for n, start in baseline.items()})
    systems = {}
    try:
        for name in names:
            systems[name] = starters[name]()
        for system in systems.values():
            # Warm up (JIT, the function's environments, Haraka's plugins) before anything is counted. .NET's tiered
            # compilation keeps recompiling hot methods for some thousands of messages: a 200-message warm-up left
            # a sixth of Inlet's CPU in the JIT during the measured runs (perf), and the inline pipeline, slower
            # and sharing the cores with Node, was still in the JIT 30 s after 5,000 messages; so a time as well.
            started = time.perf_counter()
            drive(postfix, system, args.warmup, 10, 1024, True)
            while time.perf_counter() - started < args.warmup_seconds:
                drive(postfix, system, 2000, 10, 1024, True)

        settle_after_removals()
        print(f"\n{time.strftime('%Y-%m-%d')} · {os.cpu_count()} cores · {machine()} · commit {commit()}")
        print(f"{args.rounds} rounds per cell, systems alternated; msg/s is the median (min–max)\n")
        header = f"{'size':>6} {'sess':>4} {'conn':>5}  {'system':<22} {'msg/s':>22} {'CPU s/1k':>9} {'peak RSS':>9} {'backlog':>8}"
        print(header)
        print("-" * len(header))
        summary = []
        for size, sessions, reuse in cells:
            messages = args.messages if size <= 1024 else max(200, args.messages // 4)
            results = {name: [] for name in systems}
            for _ in range(args.rounds):
                for name, system in systems.items():
                    results[name].append(drive(postfix, system, messages, sessions, size, reuse))
            medians = {}
            for name, runs in results.items():
                rates = [r[0] for r in runs]
                medians[name] = statistics.median(rates)
                cpu = statistics.median(r[1] for r in runs)
                rss = max(r[2] for r in runs)
                backlogs = [r[3] for r in runs if r[3] is not None]
                backlog = f"{statistics.median(backlogs):,.0f}" if backlogs else "–"
                label = f"{medians[name]:,.0f} ({min(rates):,.0f}–{max(rates):,.0f})"
                print(f"{size // 1024:>4}KB {sessions:>4} {'reuse' if reuse else 'each':>5}  {name:<22} {label:>22} {cpu:>9.2f} {rss:>7.0f}MB {backlog:>8}")
            summary.append(((size, sessions, reuse), medians))
            print()

        print("ratios (medians):")
        for (size, sessions, reuse), m in summary:
            parts = []
            if "inlet" in m and "haraka-fsync" in m:
                parts.append(f"inlet/haraka-fsync {m['inlet'] / m['haraka-fsync']:.2f}x")
            if "inlet" in m and "smtp-sink" in m:
                parts.append(f"inlet/smtp-sink {m['inlet'] / m['smtp-sink']:.2f}x")
            if "inlet-inline" in m and "haraka-fsync" in m:
                parts.append(f"inlet-inline/haraka-fsync {m['inlet-inline'] / m['haraka-fsync']:.2f}x")
            if "inlet-200rules" in m and "inlet" in m:
                parts.append(f"inlet-200rules/inlet {m['inlet-200rules'] / m['inlet']:.2f}x")
            if "inlet-pg" in m and "inlet" in m:
                parts.append(f"inlet-pg/inlet {m['inlet-pg'] / m['inlet']:.2f}x")
            if "inlet-pg-inline" in m and "inlet-inline" in m:
                parts.append(f"inlet-pg-inline/inlet-inline {m['inlet-pg-inline'] / m['inlet-inline']:.2f}x")
            for name in m:
                if "@" in name and name.split("@")[0] in m:
                    parts.append(f"{name.split('@')[0]}/{name} {m[name.split('@')[0]] / m[name]:.2f}x")
            print(f"  {size // 1024}KB, {sessions} sessions, {'reuse' if reuse else 'a connection per message'}: " + ", ".join(parts))
    finally:
        for system in systems.values():
            system.stop()
        if s3:
            s3.stop()
        if postgres:
            postgres.stop()


def machine():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
