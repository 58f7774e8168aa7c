#!/usr/bin/env python3
"""Inlet's resident memory under many idle sessions and under many large messages at once.

  bench/memory.py idle [N]       # N concurrent SMTP sessions (default 10,000) that greet and then wait
  bench/memory.py large [N] [MB] # N concurrent sessions (default 20) each streaming one MB-sized message (default 40)

Builds Inlet (Release) into the scratch folder of bench/compare.py, starts it with connection limits raised above N,
and prints the resident memory (VmRSS, the whole process tree) before, at the peak and after, with the machine,
date and commit.
"""

import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the harness's build, process and machine helpers)


def start(inlet_dll, scratch, connections):
    folder = os.path.join(scratch, "inlet-memory")
    subprocess.run(["rm", "-rf", folder], check=True)
    os.makedirs(folder)
    port, http = compare.free_port(), compare.free_port()
    with open(os.path.join(folder, "inlet.yaml"), "w") as f:
        f.write(f"""
Smtp:
  MaxConnections: {connections + 100}
  MaxConnectionsPerClient: {connections + 100}
  MaxMessageSize: 52428800
ReceiptRuleSets:
  - RuleSetName: main
    Rules:
      - Name: accept
        Enabled: true
        Recipients: [example.com]
ActiveReceiptRuleSet: main
""")
    command = ["dotnet", inlet_dll, "serve", "--config", os.path.join(folder, "inlet.yaml"), "--data-dir", os.path.join(folder, "data"),
               "--smtp", f"127.0.0.1:{port}", "--http", f"127.0.0.1:{http}", "--https", "off"]
    return compare.Process("inlet", command, cwd=folder, port=port)


def idle(system, count):
    sockets = []
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", system.port), timeout=30)
        sockets.append(s)
    greeted = 0
    for s in sockets:
        if s.recv(512).startswith(b"220"):
            greeted += 1
    time.sleep(2)
    peak = system.rss_mb()
    for s in sockets:
        s.close()
    return greeted, peak


def large(system, count, megabytes):
    line = b"x" * 998 + b"\r\n"
    lines = megabytes * 1024 * 1024 // len(line)
    replies = []

    def send():
        with socket.create_connection(("127.0.0.1", system.port), timeout=300) as s:
            f = s.makefile("rb")
            f.readline()
            for command in (b"EHLO load.test\r\n",):
                s.sendall(command)
                while True:
                    reply = f.readline()
                    if reply[3:4] == b" ":
                        break
            for command in (b"MAIL FROM:<load@sender.test>\r\n", b"RCPT TO:<user@example.com>\r\n", b"DATA\r\n"):
                s.sendall(command)
                f.readline()
            s.sendall(b"Subject: large\r\n\r\n")
            chunk = line * 64
            for _ in range(lines // 64):
                s.sendall(chunk)
            s.sendall(b".\r\n")
            replies.append(f.readline().decode().strip())

    peak = compare.PeakRss(system, 0.1)
    senders = [threading.Thread(target=send) for _ in range(count)]
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    return replies, peak.stop()


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "idle"
    scratch = os.path.join(tempfile.gettempdir(), "inlet-compare")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # for this script and the server it starts
    inlet_dll = compare.build_inlet(scratch)
    count = int(sys.argv[2]) if len(sys.argv) > 2 else (10_000 if mode == "idle" else 20)
    system = start(inlet_dll, scratch, count)
    try:
        # Warm up: one session and one small message, so that what is measured is the sessions, not the start.
        subprocess.run(["python3", "-c", f"import smtplib; s=smtplib.SMTP('127.0.0.1', {system.port}); s.sendmail('a@sender.test', ['u@example.com'], 'Subject: w\\r\\n\\r\\nw'); s.quit()"], check=True)
        time.sleep(1)
        before = system.rss_mb()
        print(f"\n{time.strftime('%Y-%m-%d')} · {os.cpu_count()} cores · {compare.machine()} · commit {compare.commit()}")
        if mode == "idle":
            greeted, peak = idle(system, count)
            time.sleep(3)
            print(f"{count:,} idle sessions ({greeted:,} greeted): resident {before:.0f} MB before, {peak:.0f} MB with all open, {system.rss_mb():.0f} MB after they closed")
        else:
            megabytes = int(sys.argv[3]) if len(sys.argv) > 3 else 40
            replies, peak = large(system, count, megabytes)
            accepted = sum(1 for r in replies if r.startswith("250"))
            print(f"{count} concurrent {megabytes} MB messages ({accepted} answered 250): resident {before:.0f} MB before, peak {peak:.0f} MB (+{peak - before:.0f} MB)")
    finally:
        system.stop()


if __name__ == "__main__":
    main()
