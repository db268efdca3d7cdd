#!/usr/bin/env python3
"""Turns the benchmark's result lines (results.jsonl, one measurement a line) into
report.json, report.md and chart.png, every number beside its ratio to the direct API measured in
the same run; the PostgreSQL targets (s3-pg, s3-pg3) also beside SQLite (s3), with state-DB
operations per operation. Appends bench/notes.md (the hand-written reading of the numbers) to
report.md.

usage: report.py RESULTS.jsonl OUTDIR key=value...
"""

import datetime
import json
import os
import platform
import statistics
import sys

VIAS = ["direct", "s3", "dav", "rclone-s3", "rclone-dav", "s3-pg", "s3-pg3"]
GATEWAY = ("s3", "dav", "s3-pg", "s3-pg3")
# the gateway rows held to the targets against the direct API (one instance each, SQLite; the
# PostgreSQL rows are held to SQLite's, PG_SMALL_TARGET)
TARGETED = ("s3", "dav")
# state DB: SQLite, PostgreSQL with one instance, PostgreSQL with three
STATE_VIAS = ("s3", "s3-pg", "s3-pg3")
PG_SMALL_TARGET = 0.85  # PostgreSQL small ops / SQLite small ops
# workload: (title, unit key, target ratio to the direct API for the gateway or None): the goals
# of issue #15 (the multipart upload must also reach the rclone serve peer's speed)
THROUGHPUT = {
    "put_large": ("{size} MiB single PUT", "mib_per_s", 0.9),
    "get_large": ("{size} MiB GET", "mib_per_s", 0.95),
    "multipart_large": ("{size} MiB multipart upload (aws cli; direct = one POST)", "mib_per_s", 0.6),
    "small_put": ("{count} x 4 KiB PUT, {par} clients", "ops_per_s", 0.85),
    "small_get": ("{count} x 4 KiB GET, {par} clients", "ops_per_s", 0.85),
    "small_head": ("{count} x 4 KiB HEAD, {par} clients", "ops_per_s", 0.9),
}
# the workloads users run (bench/workloads.sh): title, the peer it is held to (at least its speed)
WORKLOADS = {
    "rclone_sync": ("rclone sync of {files} files (0-64 KiB, 4 levels)", "rclone-s3"),
    "rclone_resync": ("rclone sync again, nothing to copy", "rclone-s3"),
    "aws_sync": ("aws s3 sync of the {files} files", "rclone-s3"),
    "restic_backup": ("restic backup of {rmib} MiB (200 files)", "rclone-s3"),
    "restic_check": ("restic check --read-data of it", "rclone-s3"),
    "davfs2_cp": ("davfs2 cp -r of the {files} files, then umount", "rclone-dav"),
}
RSS_TARGET = 64.0
LISTING = {
    "list_cold": ("listing {lcount} entries, cold", 1.3, None),
    "list_warm": ("listing {lcount} entries, warm", None, 100.0),
}


def load(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    by = {}
    for r in rows:
        by.setdefault((r["workload"], r["via"]), []).append(r)
    return rows, by


def best(samples, key):
    return max(s[key] for s in samples)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, nd=1):
    return "–" if v is None else f"{v:.{nd}f}"


def main():
    src, outdir = sys.argv[1], sys.argv[2]
    meta = dict(a.split("=", 1) for a in sys.argv[3:])
    size, count, par, lcount = meta["size_mib"], meta["small_count"], meta["small_parallel"], meta["list_count"]
    rows, by = load(src)
    summary = {"throughput": {}, "listing": {}}
    md_t = ["| workload | via | value | ratio to direct | p50 ms | p99 ms | gateway peak RSS MiB | upstream calls per op | target |",
            "|---|---|---|---|---|---|---|---|---|"]
    missed = []
    for wl, (title, unit, target) in THROUGHPUT.items():
        title = title.format(size=size, count=count, par=par)
        direct = by.get((wl, "direct")) or by.get(("put_large", "direct"))
        if not direct:
            continue
        d = best(direct, unit)
        for via in VIAS:
            samples = by.get((wl, via))
            if not samples:
                continue
            v = best(samples, unit)
            ratio = v / d
            s = max(samples, key=lambda x: x[unit])
            entry = {
                "value": v, "unit": unit.replace("_per_s", "/s").replace("mib", "MiB"), "ratio_to_direct": round(ratio, 3),
                "samples": [x[unit] for x in samples], "p50_ms": s.get("p50_ms"), "p99_ms": s.get("p99_ms"),
                "gateway_peak_rss_mib": max((x.get("rss_mib", 0) for x in samples), default=None) if via in GATEWAY else None,
                "upstream_calls_per_op": s.get("upstream_per_op"),
                "state_db_ops_per_op": s.get("state_db_per_op"),
            }
            summary["throughput"].setdefault(wl, {})[via] = entry
            tgt = f"≥ {target}x" if target and via in TARGETED else ""
            if target and via in TARGETED and ratio < target:
                missed.append(f"{title} via {via}: {ratio:.2f}x, {target - ratio:.2f} short of {target}x")
            peer = by.get((wl, "rclone-s3"))
            if wl == "multipart_large" and via == "s3" and peer and v < best(peer, unit):
                missed.append(f"{title} via {via}: {v:.0f} MiB/s, below the rclone serve peer's {best(peer, unit):.0f} MiB/s")
            md_t.append(
                f"| {title} | {via} | {fmt(v)} {entry['unit']} | {ratio:.2f}x | {fmt(entry['p50_ms'], 2)} | {fmt(entry['p99_ms'], 2)} | "
                f"{fmt(entry['gateway_peak_rss_mib'])} | {fmt(entry['upstream_calls_per_op'], 2)} | {tgt} |"
            )
    md_l = ["| workload | via | p50 ms | ratio to direct (time) | requests per listing | gateway peak RSS MiB | upstream calls per listing | target |",
            "|---|---|---|---|---|---|---|---|"]
    for wl, (title, ratio_target, abs_target) in LISTING.items():
        title = title.format(lcount=lcount)
        direct = by.get((wl, "direct"))
        if not direct:
            continue
        d = median(x["p50_ms"] for x in direct)
        for via in VIAS:
            samples = by.get((wl, via))
            if not samples:
                continue
            v = median(x["p50_ms"] for x in samples)
            ratio = v / d
            entry = {
                "p50_ms": round(v, 2), "samples_ms": [x["p50_ms"] for x in samples], "ratio_to_direct": round(ratio, 3),
                "entries": samples[-1].get("entries"), "requests_per_listing": samples[-1].get("requests_per_listing"),
                "gateway_peak_rss_mib": max((x.get("rss_mib", 0) for x in samples), default=None) if via in GATEWAY else None,
                "upstream_calls_per_listing": median(x.get("upstream_per_op") for x in samples),
                "state_db_ops_per_listing": median(x.get("state_db_per_op") for x in samples),
            }
            if entry["entries"] is not None and str(entry["entries"]) != lcount:
                sys.exit(f"report.py: {via} listed {entry['entries']} entries, not {lcount}")
            summary["listing"].setdefault(wl, {})[via] = entry
            tgt = ""
            if via in TARGETED and ratio_target:
                tgt = f"≤ {ratio_target}x"
                if ratio > ratio_target:
                    missed.append(f"{title} via {via}: {ratio:.2f}x the direct time, {ratio - ratio_target:.2f} over {ratio_target}x")
            if via in TARGETED and abs_target:
                tgt = f"< {abs_target:.0f} ms"
                if v >= abs_target:
                    missed.append(f"{title} via {via}: {v:.0f} ms, {v - abs_target:.0f} ms over {abs_target:.0f} ms")
            md_l.append(
                f"| {title} | {via} | {fmt(v)} | {ratio:.2f}x | {entry['requests_per_listing']} | {fmt(entry['gateway_peak_rss_mib'])} | "
                f"{fmt(entry['upstream_calls_per_listing'], 2)} | {tgt} |"
            )
    md_w, workloads = workload_table(by, missed, meta)
    summary["workloads"] = workloads
    md_s, md_sl, state = state_tables(summary, missed, count, par, lcount)
    pg_rtt = "; ".join(f"{k[len('pg_select1_'):].replace('_', ' ')}: {v}" for k, v in meta.items() if k.startswith("pg_select1_"))
    summary["state_db"] = state
    rss = [r["rss_mib"] for r in rows if "rss_mib" in r]
    peak = max(rss) if rss else None
    if peak is not None and peak > RSS_TARGET:
        missed.append(f"gateway peak RSS {peak:.1f} MiB, {peak - RSS_TARGET:.1f} MiB over {RSS_TARGET:.0f} MiB")
    try:
        load_avg = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load_avg = []
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs",
        "load_average_at_end": load_avg,
        "parameters": meta,
        "gateway_peak_rss_mib": peak,
        "targets_missed": missed,
        **summary,
        "raw": rows,
    }
    os.makedirs(outdir, exist_ok=True)
    json.dump(report, open(os.path.join(outdir, "report.json"), "w"), indent=1)
    if summary["throughput"] or summary["listing"]:
        chart(summary, os.path.join(outdir, "chart.png"), size, count, lcount)

    lines = [
        f"# Benchmark {report['date']}",
        "",
        f"Machine: {report['machine']} (load average at the end {' '.join(load_avg)}). "
        f"One run of `bench/run.sh` with {', '.join(f'{k}={v}' for k, v in meta.items())}.",
        "Every server is its own process on loopback: the emulator (direct = its API, straight), the gateway in front of it "
        "(S3, WebDAV), and `rclone serve s3` / `rclone serve webdav` over a local directory (the peer).",
        "",
        *(["## The workloads users run",
            "",
            "Each tool with its defaults, the gateway (S3, or WebDAV for davfs2) beside the `rclone serve` peer over a local "
            "directory, in the same run (bench/workloads.sh). Ratio to the peer = the peer's seconds / the gateway's "
            "(higher is better). Upstream calls per file: the gateway's calls to ScaiDrive during the workload (change-feed "
            "polls left out) divided by the files of the tree; the three most frequent beside it (all of them in "
            "report.json, `workloads.*.s3.upstream_by_endpoint`). davfs2: `cp -r` onto a fresh mount, then `umount`, which "
            "uploads what davfs2 cached (both timed).",
            "",
            *md_w,
            ""] if md_w else []),
        *(["## Transfers and small objects",
        "",
        "Ratio = value / direct (higher is better). Large transfers: best of the rounds run (curl; `-T` for PUT, the direct PUT "
        "is one multipart `POST /files`). Small objects: bench/load.py, keep-alive connections, latency per request. "
        "Upstream calls per op: the gateway's calls to ScaiDrive during the phase divided by its operations, without the "
        "change-feed polls it makes in the background (`/sync/changes`, every 2 s per share in use).",
        "",
        *md_t,
        ""] if len(md_t) > 2 else []),
        *(["## Listings",
        "",
        "Ratio = time / direct time (lower is better). Direct: `GET /folders/{id}/children` (one request). S3: ListObjectsV2 "
        "with max-keys 1000, every page. WebDAV: PROPFIND Depth 1, allprop. Cold = first listing after the server started; "
        "p50 over the cold rounds, and over every warm listing.",
        "",
        *md_l,
        ""] if len(md_l) > 2 else []),
        f"Gateway peak RSS (VmHWM, reset at the start of each phase): {fmt(peak)} MiB at most (target 64 MiB).",
        "",
        *(["## State DB: PostgreSQL beside SQLite, 1 and 3 instances",
           "",
           "S3 only. `s3` = the gateway on its SQLite state DB, `s3-pg` = one instance with `state.url` on a throwaway "
           f"PostgreSQL {meta.get('postgresql', '')} cluster on this machine (loopback, fsync off), `s3-pg3` = three instances "
           "sharing it, every request (and every listing page) sent round-robin over their three S3 endpoints, the GET and "
           "HEAD of an object to another instance than its PUT. Small objects: best of the rounds, each round on freshly "
           "started gateways, SQLite and PostgreSQL alternating. State-DB ops per op: "
           "`scaidrive_gateway_state_db_operations_total` over the phase (summed over the instances, background work "
           "included) divided by its operations; upstream calls per op as above (by method and endpoint in "
           "report.json, `raw[].upstream_by_endpoint`). A trivial PostgreSQL round trip (pgbench, `SELECT 1`) on this "
           f"machine in this run: {pg_rtt}.",
           "",
           *md_s,
           "",
           "Listings: ratios of times (lower is better); p50 over the cold rounds and over every warm listing.",
           "",
           *md_sl,
           ""] if md_s or md_sl else []),
        "## Targets missed in this run",
        "",
        *([f"- {m}" for m in missed] or ["- none"]),
        "",
        "![ratios to the direct API](chart.png)",
        "",
    ]
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
    if os.path.exists(notes):
        lines += [open(notes).read().rstrip(), ""]
    open(os.path.join(outdir, "report.md"), "w").write("\n".join(lines))
    print("\n".join(lines[: lines.index("![ratios to the direct API](chart.png)")]))


def workload_table(by, missed, meta):
    """The workloads' table (markdown lines) and summary, gateway beside its peer; appends missed
    goals."""
    files, rmib = meta.get("wl_files", "?"), meta.get("wl_restic_mib", "?")
    md = ["| workload | via | seconds | files/s | ratio to the peer (speed) | gateway peak RSS MiB | upstream calls per file | most frequent upstream calls (per file) | target |",
          "|---|---|---|---|---|---|---|---|---|"]
    out = {}
    for wl, (title, peer_via) in WORKLOADS.items():
        title = title.format(files=files, rmib=rmib)
        peer = [x for x in by.get((wl, peer_via), []) if x.get("seconds")]
        peer_s = min(x["seconds"] for x in peer) if peer else None
        # a peer stopped unfinished: the gateway's ratio is at least its limit / the gateway's time
        peer_limit = max((x["timed_out"] for x in by.get((wl, peer_via), []) if x.get("timed_out")), default=None)
        for via in ("s3", "dav", peer_via):
            samples = by.get((wl, via))
            if not samples:
                continue
            gw = via in GATEWAY
            if not gw and peer_s is None and peer_limit:
                out.setdefault(wl, {})[via] = {"timed_out": peer_limit, "peer_errors": samples[0].get("peer_errors")}
                md.append(f"| {title} | {via} | not finished after {peer_limit} s, stopped | | | – | – | "
                          f"{'(the peer logged %s ERROR lines meanwhile)' % samples[0]['peer_errors'] if samples[0].get('peer_errors') else ''} | |")
                continue
            s = min(samples, key=lambda x: x["seconds"])
            ratio = peer_s / s["seconds"] if gw and peer_s else None
            at_least = gw and ratio is None and peer_limit is not None
            if at_least:
                ratio = peer_limit / s["seconds"]
            n = s.get("upstream_per_op") and s["upstream_per_op"] / sum(s.get("upstream_by_endpoint", {}).values() or [1])
            top = sorted(s.get("upstream_by_endpoint", {}).items(), key=lambda kv: -kv[1])[:3]
            top_s = ", ".join(f"`{k}` {v * n:.2f}" for k, v in top) if n else ""
            if s.get("peer_errors"):
                top_s = f"(the peer logged {s['peer_errors']} ERROR lines meanwhile)"
            out.setdefault(wl, {})[via] = {k: s.get(k) for k in ("seconds", "files_per_s", "cp_seconds", "umount_seconds", "rss_mib",
                                                                 "upstream_per_op", "upstream_by_endpoint", "peer_errors") if k in s}
            if ratio is not None:
                out[wl][via]["ratio_to_peer" if not at_least else "ratio_to_peer_at_least"] = round(ratio, 3)
            tgt = "≥ the peer" if gw else ""
            if ratio is not None and ratio < 1.0:
                missed.append(f"{title} via {via}: {ratio:.2f}x the peer's speed ({s['seconds']:.1f} s against {peer_s:.1f} s)")
            secs = f"{s['seconds']:.1f}" + (f" (cp {s['cp_seconds']:.1f} + umount {s['umount_seconds']:.1f})" if "cp_seconds" in s else "")
            md.append(f"| {title} | {via} | {secs} | {fmt(s.get('files_per_s'))} | {'> ' if at_least else ''}{fmt(ratio, 2)}{'x' if ratio else ''} | "
                      f"{fmt(s.get('rss_mib')) if gw else '–'} | {fmt(s.get('upstream_per_op'), 2) if gw else '–'} | {top_s} | {tgt} |")
    for s in by.get(("concurrent_16", "s3+dav"), []):
        title = f"16 concurrent {meta.get('conc_mib', '?')} MiB transfers (4 S3 PUT, 4 WebDAV PUT, 4 S3 GET, 4 WebDAV GET)"
        out["concurrent_16"] = {k: s.get(k) for k in ("seconds", "mib_per_s", "rss_mib", "upstream_per_op", "upstream_by_endpoint")}
        if s["rss_mib"] > RSS_TARGET:
            missed.append(f"{title}: gateway peak RSS {s['rss_mib']:.1f} MiB, over {RSS_TARGET:.0f} MiB")
        start = f" (at its start {fmt(s['rss_start_mib'])})" if s.get("rss_start_mib") is not None else ""
        out["concurrent_16"]["rss_start_mib"] = s.get("rss_start_mib")
        md.append(f"| {title} | s3+dav | {s['seconds']:.1f} | {fmt(s.get('mib_per_s'))} MiB/s in all | | {fmt(s['rss_mib'])}{start} | "
                  f"{fmt(s.get('upstream_per_op'), 2)} per transfer | | ≤ {RSS_TARGET:.0f} MiB |")
    return (md if len(md) > 2 else []), out


def state_tables(summary, missed, count, par, lcount):
    """The state-DB tables (markdown lines) and their summary; appends missed goals."""
    md_s = ["| workload | via | ops/s | ratio to direct | ratio to SQLite | state-DB ops per op | upstream calls per op | target |",
            "|---|---|---|---|---|---|---|---|"]
    state = {}
    for wl in ("small_put", "small_get", "small_head"):
        t = summary["throughput"].get(wl, {})
        if not any(v in t for v in STATE_VIAS[1:]):
            continue
        title = THROUGHPUT[wl][0].format(size="", count=count, par=par)
        sqlite, pg1 = t.get("s3"), t.get("s3-pg")
        for via in STATE_VIAS:
            e = t.get(via)
            if not e:
                continue
            to_sqlite = e["value"] / sqlite["value"] if sqlite else None
            row = {"ops_per_s": e["value"], "ratio_to_direct": e["ratio_to_direct"],
                   "ratio_to_sqlite": None if to_sqlite is None else round(to_sqlite, 3),
                   "state_db_ops_per_op": e["state_db_ops_per_op"], "upstream_calls_per_op": e["upstream_calls_per_op"]}
            tgt = ""
            if via == "s3-pg" and to_sqlite is not None:
                tgt = f"≥ {PG_SMALL_TARGET}x SQLite"
                if to_sqlite < PG_SMALL_TARGET:
                    missed.append(f"{title} via s3-pg: {to_sqlite:.2f}x SQLite, {PG_SMALL_TARGET - to_sqlite:.2f} short of {PG_SMALL_TARGET}x")
            if via == "s3-pg3" and pg1 and e["upstream_calls_per_op"] is not None:
                extra = e["upstream_calls_per_op"] - pg1["upstream_calls_per_op"]
                row["extra_upstream_calls_per_op"] = round(extra, 4)
                tgt = f"0 extra upstream (here {extra:+.3f})"
                if round(extra, 3) > 0:
                    missed.append(f"{title} via s3-pg3: {extra:+.3f} upstream calls per op over one instance (goal 0)")
            state.setdefault(wl, {})[via] = row
            md_s.append(f"| {title} | {via} | {fmt(e['value'])} | {e['ratio_to_direct']:.2f}x | {fmt(to_sqlite, 2)}x | "
                        f"{fmt(e['state_db_ops_per_op'], 2)} | {fmt(e['upstream_calls_per_op'], 3)} | {tgt} |")
    md_sl = ["| workload | via | p50 ms | ratio to direct (time) | ratio to SQLite (time) | state-DB ops per listing | upstream calls per listing |",
             "|---|---|---|---|---|---|---|"]
    for wl in ("list_cold", "list_warm"):
        t = summary["listing"].get(wl, {})
        if not any(v in t for v in STATE_VIAS[1:]):
            continue
        title = LISTING[wl][0].format(lcount=lcount)
        sqlite = t.get("s3")
        for via in STATE_VIAS:
            e = t.get(via)
            if not e:
                continue
            to_sqlite = e["p50_ms"] / sqlite["p50_ms"] if sqlite else None
            state.setdefault(wl, {})[via] = {
                "p50_ms": e["p50_ms"], "ratio_to_direct": e["ratio_to_direct"],
                "ratio_to_sqlite": None if to_sqlite is None else round(to_sqlite, 3),
                "state_db_ops_per_listing": e["state_db_ops_per_listing"],
                "upstream_calls_per_listing": e["upstream_calls_per_listing"]}
            md_sl.append(f"| {title} | {via} | {fmt(e['p50_ms'])} | {e['ratio_to_direct']:.2f}x | {fmt(to_sqlite, 2)}x | "
                         f"{fmt(e['state_db_ops_per_listing'], 1)} | {fmt(e['upstream_calls_per_listing'], 2)} |")
    return (md_s if len(md_s) > 2 else []), (md_sl if len(md_sl) > 2 else []), state


def chart(summary, path, size, count, lcount):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"s3": "#1f77b4", "dav": "#2ca02c", "rclone-s3": "#aec7e8", "rclone-dav": "#98df8a",
              "s3-pg": "#9467bd", "s3-pg3": "#c5b0d5"}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5.5), gridspec_kw={"width_ratios": [3, 1.3]})
    wls = [w for w in THROUGHPUT if w in summary["throughput"]]
    present = {v for t in (*summary["throughput"].values(), *summary["listing"].values()) for v in t}
    vias = [v for v in VIAS if v != "direct" and v in present]
    width = 0.8 / len(vias)
    mid = (len(vias) - 1) / 2
    for j, via in enumerate(vias):
        xs, ys = [], []
        for i, wl in enumerate(wls):
            e = summary["throughput"][wl].get(via)
            if e:
                xs.append(i + (j - mid) * width)
                ys.append(e["ratio_to_direct"])
        ax1.bar(xs, ys, width, label=via, color=colors[via])
    labels = {"put_large": f"{size} MiB PUT", "get_large": f"{size} MiB GET", "multipart_large": f"{size} MiB multipart",
              "small_put": f"{count}x4 KiB PUT", "small_get": f"{count}x4 KiB GET", "small_head": f"{count}x4 KiB HEAD"}
    ax1.set_xticks(range(len(wls)), [labels[w] for w in wls], rotation=15)
    ax1.axhline(1.0, color="black", linewidth=0.8)
    for i, wl in enumerate(wls):
        t = THROUGHPUT[wl][2]
        if t:
            ax1.plot([i - 0.45, i + 0.45], [t, t], color="red", linestyle="--", linewidth=1)
    ax1.set_ylabel("throughput / direct API (higher is better)")
    ax1.set_title("Throughput relative to the direct ScaiDrive API (red: gateway target)")
    ax1.legend()
    lw = [w for w in LISTING if w in summary["listing"]]
    for j, via in enumerate(vias):
        xs, ys = [], []
        for i, wl in enumerate(lw):
            e = summary["listing"][wl].get(via)
            if e:
                xs.append(i + (j - mid) * width)
                ys.append(e["ratio_to_direct"])
        ax2.bar(xs, ys, width, label=via, color=colors[via])
    ax2.set_xticks(range(len(lw)), [f"{lcount} entries, {w.split('_')[1]}" for w in lw])
    ax2.axhline(1.0, color="black", linewidth=0.8)
    ax2.plot([-0.45, 0.45], [1.5, 1.5], color="red", linestyle="--", linewidth=1)
    ax2.set_yscale("log")
    ax2.set_ylabel("listing time / direct API time (lower is better)")
    ax2.set_title("Listings")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
