#!/usr/bin/env python3
"""Summarises `perf script -F comm,tid,ip,sym,dso` output of one process (scripts/bench-profile).

--mode cpu: samples by thread, by part (kernel, Swift runtime, C library, Parley and its
Swift packages, other libraries), the functions most samples stop in, and Parley's own
functions with all they call.
--mode allocations: one sample per malloc; per second, per message and per delivery of the
process in the same seconds (from its metrics before and after), by thread and by the Parley
function nearest to each call.
--mode writes: `perf script -F comm,tid,trace` of the write and writev calls: by thread, the
data written (sockets, services) apart from the 1- and 8-byte writes that wake a thread (a
pipe, an event loop's eventfd); for a gateway, the events it emitted to sockets in the same
seconds per data write of its event loops.
"""
import argparse
import collections
import re
import shutil
import subprocess
import sys

# Parley's own modules, as their names appear in mangled Swift symbols.
OWN = re.compile(r"Parley|SocketIO|MessageWorker|PresenceWorker|MediaWorker|Maintenance")
# The runtime's and the standard library's frames, passed over to find who allocated.
PLUMBING = re.compile(r"^(swift_|swift::|_swift|\$ss|\$sS[a-zA-Z]|__swift|operator new|\[unknown\]|malloc|__GI_|__libc)")


def samples(stream):
    """Each sample: its thread's name and id, and its frames (symbol, library), innermost first."""
    block = []
    for line in stream:
        line = line.rstrip("\n")
        if line.strip():
            block.append(line)
            continue
        if block:
            yield parse(block)
            block = []
    if block:
        yield parse(block)


def parse(block):
    head = block[0].split()
    # `comm tid ...`: a thread's name may hold spaces; its id is the last number before the event.
    tid_at = next(i for i, word in enumerate(head) if word.isdigit())
    thread = " ".join(head[:tid_at]) or "?"
    frames = []
    for line in block[1:]:
        match = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
        if match:
            symbol, dso = match.groups()
            frames.append((re.sub(r"\+0x[0-9a-f]+$", "", symbol), dso))
    return thread, int(head[tid_at]), frames


def part(symbol, dso, binary):
    if "kernel" in dso:
        return "kernel"
    if "libswift" in dso or "libFoundation" in dso or "libdispatch" in dso:
        return "Swift runtime and Foundation"
    if "libc.so" in dso or "libm.so" in dso or "ld-linux" in dso:
        return "C library"
    if OWN.search(symbol):
        return "Parley"
    if dso == binary:
        return "Swift packages (NIO, Hummingbird, ...)"
    return dso.rsplit("/", 1)[-1] or "?"


def demangled(names):
    """Swift names as `swift demangle --simplified` reads them; others as they are."""
    tool = shutil.which("swift-demangle")
    if not tool or not names:
        return {name: name for name in names}
    result = subprocess.run([tool, "--simplified", "--compact"], input="\n".join(names), capture_output=True, text=True)
    lines = result.stdout.split("\n")
    return {name: (lines[i] if i < len(lines) and lines[i] else name) for i, name in enumerate(names)}


def merged(counts, names):
    result = collections.Counter()
    for key, count in counts.items():
        result[names.get(key, key)] += count
    return result


def counters(path):
    values = {}
    if not path:
        return values
    try:
        for line in open(path):
            name, value = line.split()
            values[name] = float(value)
    except (OSError, ValueError):
        pass
    return values


def table(title, counts, total, names, rows=15, per=None):
    print(title)
    for key, count in counts.most_common(rows):
        share = f"{100 * count / total:5.1f}%"
        extra = f"  {count / per[1]:6.2f} {per[0]}" if per else ""
        print(f"  {share}{extra}  {names.get(key, key)[:150]}")
    print()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["cpu", "allocations", "writes"], required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--before")
    parser.add_argument("--after")
    parser.add_argument("--binary", help="the recorded program's path: its code other than Parley's is the packages'")
    args = parser.parse_args()
    if args.mode == "writes":
        return writes(args)

    threads, parts, leaves, inclusive, sites = (collections.Counter() for _ in range(5))
    thread_names = {}
    total = 0
    for thread, tid, frames in samples(sys.stdin):
        if not frames:
            continue
        total += 1
        threads[tid] += 1
        thread_names[tid] = f"{thread} ({tid})"
        if args.mode == "cpu":
            parts[part(*frames[0], args.binary)] += 1
            leaves[frames[0][0]] += 1
            inclusive[frozenset(s for s, _ in frames if OWN.search(s))] += 1
        else:
            own = next((s for s, _ in frames if OWN.search(s)), None)
            caller = next((s for s, _ in frames[1:] if not PLUMBING.search(s)), frames[-1][0])
            sites[own or caller] += 1
    if not total:
        sys.exit("no samples: was the process found, and is perf allowed to record it?")

    names = demangled(sorted(set(leaves) | set().union(*inclusive) | set(sites)))
    # An async function's parts demangle to one name: counted as one (once a sample).
    leaves, sites = merged(leaves, names), merged(sites, names)
    within = collections.Counter()
    for symbols, count in inclusive.items():
        for name in {names[s] for s in symbols}:
            within[name] += count
    if args.mode == "cpu":
        print(f"{total} samples in {args.seconds:g} s")
        print()
        table("By thread:", threads, total, thread_names)
        table("By part (the function each sample stopped in):", parts, total, {})
        table("Functions most samples stopped in:", leaves, total, names, rows=25)
        table("Parley's functions with all they call:", within, total, {}, rows=25)
        return

    before, after = counters(args.before), counters(args.after)
    done = {name.replace("parley_", "").replace("_total", ""): after[name] - before.get(name, 0) for name in after}
    print(f"{total} allocations in {args.seconds:g} s: {total / args.seconds:,.0f} a second")
    per = None
    for name in ("messages_accepted", "messages_persisted", "messages_delivered"):
        if done.get(name, 0) > 0:
            print(f"  {total / done[name]:.1f} per {name.replace('messages_', 'message ')} ({done[name]:,.0f} in the same seconds)")
            per = per or (f"per {name.replace('messages_', 'message ')}", done[name])
    print()
    table("By thread:", threads, total, thread_names, per=per)
    table("By the nearest function of Parley's (or the first caller past the runtime):", sites, total, names, rows=30, per=per)


def writes(args):
    calls, data, wakeups, data_bytes, sized = (collections.Counter() for _ in range(5))
    loops = set()
    for line in sys.stdin:
        match = re.match(r"\s*(.*?)\s+(\d+)\s+fd: 0x[0-9a-f]+, (buf|vec): 0x[0-9a-f]+, (count|vlen): (0x[0-9a-f]+)", line)
        if not match:
            continue
        thread, tid, _, unit, value = match.groups()
        name = f"{thread} ({tid})"
        calls[name] += 1
        if thread.startswith("NIO-"):
            loops.add(name)
        size = int(value, 16)
        # A writev's count is of buffers, not bytes: always data.
        if unit == "count" and size in (1, 8):
            wakeups[name] += 1
            continue
        data[name] += 1
        if unit == "count":
            data_bytes[name] += size
            sized[name] += 1
    total = sum(calls.values())
    if not total:
        sys.exit("no write calls recorded: was the process found, and is perf allowed to trace it?")
    print(f"{total} write and writev calls in {args.seconds:g} s: {total / args.seconds:,.0f} a second")
    print()
    print("By thread: calls; data writes (average bytes of the writes); wake-ups (1 or 8 bytes)")
    for name, count in calls.most_common():
        average = f" ({data_bytes[name] / sized[name]:,.0f} bytes)" if sized[name] else ""
        print(f"  {count:8,}  data {data[name]:8,}{average}  wake-ups {wakeups[name]:6,}  {name}")
    before, after = counters(args.before), counters(args.after)
    emitted = after.get("parley_socket_events_emitted_total", 0) - before.get("parley_socket_events_emitted_total", 0)
    loop_writes = sum(data[name] for name in loops)
    if emitted > 0 and loop_writes:
        print()
        print(f"Events emitted to sockets in the same seconds: {emitted:,.0f}, {emitted / loop_writes:.2f} a data write of the event loops")
        print("  (the acks are written too, not counted as events)")


if __name__ == "__main__":
    main()
