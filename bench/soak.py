#!/usr/bin/env python3
"""Soak test: a few minutes of mixed valid and invalid SMTP and HTTP traffic against one Inlet on loopback.

    bench/soak.py [--minutes 2] [--workers 4] [--no-build]

Starts a fresh Inlet (Release build) in a temporary data folder, runs senders side by side, and prints the messages
accepted, SMTP replies and HTTP statuses by code, any HTTP 5xx, and the server's RSS and open file descriptors
sampled every 10 seconds. Bounded: the traffic stops at the deadline, everything runs on 127.0.0.0/8, and the
server is stopped (by its process id) at the end.
"""
import argparse
import datetime
import hashlib
import hmac
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY, SECRET, REGION = "inlet", "inlet-secret", "us-east-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.smtp = Counter()
        self.http = Counter()
        self.http_5xx = []
        self.accepted = 0
        self.errors = Counter()

    def add(self, kind, key):
        with self.lock:
            (self.smtp if kind == "smtp" else self.http)[key] += 1


# --- SMTP -------------------------------------------------------------------------------------------------------

class Smtp:
    def __init__(self, port, source="127.0.0.1", timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
        self.buffer = b""

    def reply(self):
        lines = []
        while True:
            while b"\r\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return lines[-1][:3] if lines else "closed", lines
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return line[:3].decode(), lines

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def smtp_session(port, stats, message, recipient="user@example.com", extra=None):
    c = Smtp(port)
    try:
        code, _ = c.reply()
        stats.add("smtp", code)
        c.send("EHLO soak.test\r\n")
        stats.add("smtp", c.reply()[0])
        for command in extra or []:
            c.send(command)
            stats.add("smtp", c.reply()[0])
        c.send(f"MAIL FROM:<soak@sender.test>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n")
        replies = [c.reply()[0] for _ in range(3)]
        for r in replies:
            stats.add("smtp", r)
        if replies[-1] == "354":
            c.send(message + b".\r\n")
            final, _ = c.reply()
            stats.add("smtp", final)
            if final == "250":
                with stats.lock:
                    stats.accepted += 1
        c.send("QUIT\r\n")
        stats.add("smtp", c.reply()[0])
    finally:
        c.close()


def message(size):
    body = ("x" * 76 + "\r\n") * max(1, size // 78)
    return f"Subject: soak {random.random()}\r\nFrom: soak@sender.test\r\nTo: user@example.com\r\n\r\n{body}".encode()


def smtp_valid(port, stats, deadline):
    while time.time() < deadline:
        smtp_session(port, stats, message(random.choice([512, 4096, 65536])))


def smtp_invalid(port, stats, deadline):
    while time.time() < deadline:
        kind = random.randrange(5)
        c = Smtp(port, source=f"127.0.0.{random.randint(2, 9)}", timeout=10)
        try:
            stats.add("smtp", c.reply()[0])
            if kind == 0:  # unknown recipient
                c.send("EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<nobody@nowhere.test>\r\n")
            elif kind == 1:  # bad sequence and garbage
                c.send("DATA\r\nFOO bar\r\nRCPT TO:<x@example.com>\r\n")
            elif kind == 2:  # over-long command line
                c.send("EHLO " + "a" * 5000 + "\r\n")
            elif kind == 3:  # bare LF in data (smuggling attempt)
                c.send("EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n")
                for _ in range(4):
                    stats.add("smtp", c.reply()[0])
                c.send("Subject: bare\n\nbody\n.\n.\r\n")
            else:  # abandoned in the middle of a command
                c.send("EHLO x\r\nMAIL FR")
            for _ in range(3):
                c.sock.settimeout(2)
                try:
                    stats.add("smtp", c.reply()[0])
                except socket.timeout:
                    stats.add("smtp", "timeout(client)")
                    break
        except OSError as e:
            stats.errors[type(e).__name__] += 1
        finally:
            c.close()


# --- HTTP -------------------------------------------------------------------------------------------------------

def sign(method, host, path, query, headers, body, service):
    now = datetime.datetime.now(datetime.timezone.utc)
    amz, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(body).hexdigest()
    headers = {k.lower(): v for k, v in headers.items()}
    headers.update({"host": host, "x-amz-date": amz})
    if service == "s3":
        headers["x-amz-content-sha256"] = payload
    signed = sorted(headers)
    canonical_query = "&".join(sorted(f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}" for k, v in query))
    uri = path if service == "s3" else urllib.parse.quote(path, safe="/-_.~")
    canonical = "\n".join([method, uri, canonical_query, "".join(f"{h}:{headers[h]}\n" for h in signed), ";".join(signed), payload])
    scope = f"{date}/{REGION}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    k = ("AWS4" + SECRET).encode()
    for part in (date, REGION, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={KEY}/{scope}, SignedHeaders={';'.join(signed)}, Signature={signature}"
    return headers


def http(port, stats, method, path, body=b"", headers=None, service=None, query=(), label=None, host=None):
    host = host or f"127.0.0.1:{port}"
    headers = dict(headers or {})
    if service:
        headers = sign(method, host, path, query, headers, body, service)
    else:
        headers["host"] = host
    target = path + ("?" + urllib.parse.urlencode(query) if query else "")
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(head.encode() + body)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        status = int(data[9:12])
    except (OSError, ValueError) as e:
        stats.errors[f"http {type(e).__name__}"] += 1
        return None
    stats.add("http", f"{label or path} {status}")
    if status >= 500:
        with stats.lock:
            stats.http_5xx.append(f"{method} {target[:80]} -> {status}")
    return status


def http_traffic(port, stats, deadline):
    n = 0
    while time.time() < deadline:
        n += 1
        form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        choice = n % 12
        if choice == 0:
            http(port, stats, "POST", "/", b"Action=ListReceiptRuleSets&Version=2010-12-01", form, "ses", label="ses ListReceiptRuleSets")
        elif choice == 1:
            http(port, stats, "GET", "/api/messages", query=[("limit", "20")], label="api messages")
        elif choice == 2:
            http(port, stats, "POST", "/api/rules/test", message(2048), query=[("to", "user@example.com")], label="api dry run")
        elif choice == 3:
            key = f"soak-{n}"
            http(port, stats, "PUT", f"/soak/{key}", os.urandom(8192), service="s3", label="s3 PutObject")
            http(port, stats, "GET", f"/soak/{key}", service="s3", label="s3 GetObject")
        elif choice == 4:  # wrong signature
            h = sign("POST", f"127.0.0.1:{port}", "/", (), form, b"Action=ListTopics", "sns")
            h["authorization"] = h["authorization"][:-4] + "0000"
            http(port, stats, "POST", "/", b"Action=ListTopics", h, label="sns wrong signature")
        elif choice == 5:  # malformed Query forms
            bad = random.choice([b"Action=ListTopics&Version=2010-03-31&A=%00", b"Action=ListTopics&Version=2010-03-31&Action=Publish",
                                 b"Action=ListTopics&Version=2010-03-31" + b"".join(b"&F%d=x" % i for i in range(1100))])
            http(port, stats, "POST", "/", bad, form, "sns", label="sns malformed form")
        elif choice == 6:
            http(port, stats, "GET", "/%2E%2E/inlet.db", service="s3", label="s3 path-like bucket")
        elif choice == 7:
            http(port, stats, "GET", "/api/messages", host="evil.example", label="api foreign host")
        elif choice == 8:
            http(port, stats, "POST", "/api/messages/0000000000000000000000000000000000000000/replay", headers={"Origin": "https://evil.example"}, label="api foreign origin")
        elif choice == 9:
            http(port, stats, "POST", "/", b"Action=ListTopics&Version=2010-03-31", form, "sns", label="sns ListTopics")
        elif choice == 10:
            http(port, stats, "GET", "/2015-03-31/functions", service="lambda", label="lambda ListFunctions")
        else:
            http(port, stats, "GET", "/health", label="health")


# --- the server -------------------------------------------------------------------------------------------------

def sample(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return rss // 1024, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        return None, None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2)
    parser.add_argument("--workers", type=int, default=4, help="valid SMTP senders; invalid SMTP and HTTP get half as many each")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["dotnet", "build", os.path.join(ROOT, "src", "Inlet"), "-c", "Release", "-v", "quiet", "-nologo"], check=True, stdout=subprocess.DEVNULL)
    dll = os.path.join(ROOT, "src", "Inlet", "bin", "Release", "net10.0", "inlet.dll")
    data = tempfile.mkdtemp(prefix="inlet-soak-")
    smtp_port, http_port = free_port(), free_port()
    config = os.path.join(data, "inlet.yaml")
    with open(config, "w") as f:
        f.write(f"""DataDirectory: {data}/data
Smtp: {{ Listen: 127.0.0.1:{smtp_port}, CommandTimeout: 20, MaxConnectionsPerClient: 20 }}
Http: {{ Listen: 127.0.0.1:{http_port}, HttpsListen: "off" }}
Buckets: [soak, mail]
ReceiptRuleSets:
  - RuleSetName: main
    Rules:
      - Name: store
        Enabled: true
        Recipients: [example.com]
        Actions:
          - S3Action: {{ BucketName: mail, ObjectKeyPrefix: inbox/ }}
ActiveReceiptRuleSet: main
""")
    log = open(os.path.join(data, "server.log"), "w")
    server = subprocess.Popen(["dotnet", dll, "serve", "--config", config], stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", http_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        stats = Stats()
        start = time.time()
        deadline = start + args.minutes * 60
        threads = [threading.Thread(target=smtp_valid, args=(smtp_port, stats, deadline)) for _ in range(args.workers)]
        threads += [threading.Thread(target=smtp_invalid, args=(smtp_port, stats, deadline)) for _ in range(max(1, args.workers // 2))]
        threads += [threading.Thread(target=http_traffic, args=(http_port, stats, deadline)) for _ in range(max(1, args.workers // 2))]
        for t in threads:
            t.daemon = True
            t.start()
        samples = []
        print(f"soak: {args.minutes:g} min, {len(threads)} senders, server pid {server.pid}, SMTP {smtp_port}, HTTP {http_port}")
        print(f"{'t (s)':>6} {'RSS MB':>7} {'fds':>5} {'accepted':>9}")
        while time.time() < deadline:
            rss, fds = sample(server.pid)
            samples.append((int(time.time() - start), rss, fds, stats.accepted))
            print(f"{samples[-1][0]:>6} {rss:>7} {fds:>5} {stats.accepted:>9}", flush=True)
            time.sleep(min(10, max(0, deadline - time.time())))
        for t in threads:
            t.join(timeout=60)
        rss, fds = sample(server.pid)
        print(f"{int(time.time() - start):>6} {rss:>7} {fds:>5} {stats.accepted:>9}  (end)")
        elapsed = time.time() - start
        print(f"\nmessages accepted: {stats.accepted} ({stats.accepted / elapsed:.1f}/s)")
        print("SMTP replies by code: " + ", ".join(f"{k}: {v}" for k, v in sorted(stats.smtp.items())))
        print("HTTP statuses:")
        for k, v in sorted(stats.http.items()):
            print(f"  {k}: {v}")
        print(f"HTTP 5xx: {len(stats.http_5xx)}" + "".join(f"\n  {x}" for x in stats.http_5xx[:20]))
        if stats.errors:
            print("client-side errors: " + ", ".join(f"{k}: {v}" for k, v in stats.errors.items()))
        leftovers = [n for n in os.listdir(os.path.join(data, "data", "spool")) if n.startswith("#")]
        print(f"temporary spool files left: {len(leftovers)}")
        return 1 if stats.http_5xx else 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
