#!/usr/bin/env python3
"""What an idle Inlet costs while its functions' execution environments are warm.

  bench/idle.py                      # the inline system of bench/compare.py, warmed by 10 sessions, then left alone
  bench/idle.py --sessions 50 --seconds 60
  bench/idle.py --baseline main      # the working tree beside a git revision, one after the other

Starts the `inlet-inline` system of bench/compare.py (a synchronous Node function and an S3 action in every
message's path), sends it messages over as many sessions as asked (each concurrent invocation warms an environment
of its own), waits for it to settle, and then counts the CPU time of its whole process tree over the idle period:
the Runtime API's long polls, the memory watch, timers. Prints the environments it found, the CPU time, and the
share of one core, with the machine, date and commit.
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the harness's build, process and machine helpers)


def measure(name, suffix, dll, postfix, resolver, args):
    system = compare.start_inlet(dll, args.scratch, inline=True, dns_port=resolver.port, suffix=suffix)
    try:
        compare.drive(postfix, system, args.sessions * 200, args.sessions, 1024, True)
        time.sleep(args.settle)
        environments = sum(1 for pid in system.tree() if comm(pid) == "node")
        cpu = system.cpu_seconds()
        time.sleep(args.seconds)
        cpu = system.cpu_seconds() - cpu
        print(f"  {name:<22} {environments:>12} {cpu:>12.2f} {100 * cpu / args.seconds:>11.1f}%")
    finally:
        system.stop()


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scratch", default=os.path.join(tempfile.gettempdir(), "inlet-compare"))
    parser.add_argument("--sessions", type=int, default=10, help="concurrent sessions of the warm-up: the environments warmed")
    parser.add_argument("--seconds", type=float, default=30, help="the idle period measured")
    parser.add_argument("--settle", type=float, default=5, help="seconds between the warm-up's end and the measurement")
    parser.add_argument("--baseline", metavar="REVISION", help="also measure this git revision's build")
    args = parser.parse_args()

    postfix = compare.install_postfix(args.scratch)
    builds = [("inlet-inline", "", compare.build_inlet(args.scratch))]
    if args.baseline:
        builds.append((f"inlet-inline@{args.baseline}", "-baseline", compare.build_inlet(args.scratch, args.baseline)))
    resolver = compare.NxdomainResolver()

    print(f"\n{time.strftime('%Y-%m-%d')} · {os.cpu_count()} cores · {compare.machine()} · commit {compare.commit()}")
    print(f"warmed by {args.sessions} sessions, then idle for {args.seconds:.0f} s\n")
    print(f"  {'system':<22} {'environments':>12} {'CPU s':>12} {'of one core':>12}")
    for name, suffix, dll in builds:
        measure(name, suffix, dll, postfix, resolver, args)


if __name__ == "__main__":
    main()
