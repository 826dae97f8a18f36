#!/usr/bin/env python3
"""Summarise a walrs bench run: medians and min-max per (operation, tool), ratios against
pgBackRest and against the hardware, as JSON, a markdown table and a PNG chart.

    report.py results/<tag>.jsonl --meta key=value ...

writes results/<tag>.json, results/<tag>.md and results/<tag>.png next to the input.
"""
import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

# For each timed operation: the pgBackRest figure it is compared with.
REFERENCE = {
    "backup": "pgbackrest-p2",
    "restore": "pgbackrest-p2",
    "archive": "pgbackrest-async",
    "fetch": "pgbackrest",
}
# The speed targets, as (op, tool, reference tool, minimum speed-up over it).
TARGETS = [
    ("backup", "walrs", "pgbackrest-p2", 3.0),
    ("backup", "walrs", "pg_basebackup-lz4", 1.0),
    ("restore", "walrs", "pgbackrest-p2", 3.5),
    ("archive", "walrs", "pgbackrest-async", 2.5),
    ("archive", "walrs", "basic_archive", 1.0),
    ("fetch", "walrs", "pgbackrest", 2.5),
]
OP_TITLES = {
    "backup": "full backup",
    "restore": "restore",
    "archive": "archive a WAL backlog",
    "fetch": "fetch WAL one by one",
}


def summarise(values):
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--meta", nargs="*", default=[])
    args = ap.parse_args()
    raw = Path(args.raw)
    rows = [json.loads(line) for line in raw.read_text().splitlines() if line.strip()]
    meta = dict(kv.split("=", 1) for kv in args.meta)

    times = defaultdict(list)
    adjusted = defaultdict(list)  # seconds the guest had the CPU: wall time less the steal share
    rss = defaultdict(list)
    tps_rows = defaultdict(list)
    steal = defaultdict(list)
    extra = defaultdict(list)
    for r in rows:
        key = (r["op"], r["tool"])
        if r["op"] in OP_TITLES:
            times[key].append(r["seconds"])
            if "steal" in r:
                steal[key].append(r["steal"])
                adjusted[key].append(r["seconds"] * (1 - r["steal"]))
            if r.get("rss_kb"):
                rss[key].append(r["rss_kb"])
        elif r["op"] == "rss":
            rss[("rss", r["tool"])].append(r["rss_kb"])
        elif r["op"] == "tps":
            tps_rows[r["tool"]].append(r)
        else:
            extra[key].append(r)
    tps = {tool: [r["tps"] for r in v] for tool, v in tps_rows.items()}

    # Hardware limits.
    hw = {}
    if extra.get(("hw", "read")):
        reads = extra[("hw", "read")]
        hw["data_bytes"] = reads[-1]["bytes"]
        hw["read_mbps"] = max(r["bytes"] / 1e6 / r["seconds"] for r in reads)
    # Floors take the best round: a time below a floor must be out of reach even on this
    # machine's best moment (its disk and CPU speed drift between rounds).
    if extra.get(("hw", "write")):
        hw["write_mbps"] = max(r["bytes"] / 1e6 / r["seconds"] for r in extra[("hw", "write")])
    if extra.get(("hw", "lz4")):  # runs before the codec-* records: lz4 -b1 on a 256 MB sample
        l = extra[("hw", "lz4")]
        hw["lz4_compress_mbps_per_core"] = statistics.median(r["lz4_compress_mbps"] for r in l)
        hw["lz4_decompress_mbps_per_core"] = statistics.median(r["lz4_decompress_mbps"] for r in l)
        hw["cores"] = l[-1]["cores"]
    for kind in ("data", "wal"):
        l = extra.get(("hw", f"codec-{kind}"))
        if not l:
            continue
        hw[f"{kind}_codec_mb"] = l[-1]["walrs"]["bytes"] / 1e6

        def rate(r, key):  # each round's own size: the data directory grows between rounds
            return r["walrs"]["bytes"] / 1e6 / max(r[key], 0.001)

        hw[f"{kind}_walrs_lz4_compress_mbps"] = max(r["walrs"]["compress_mbps"] for r in l)
        hw[f"{kind}_walrs_lz4_decompress_mbps"] = max(r["walrs"]["decompress_mbps"] for r in l)
        hw[f"{kind}_c_lz4_compress_mbps"] = max(rate(r, "c_lz4_compress_s") for r in l)
        hw[f"{kind}_c_lz4_decompress_mbps"] = max(rate(r, "c_lz4_decompress_s") for r in l)
        if kind == "data":
            hw["lz4_compress_mbps_per_core"] = hw["data_c_lz4_compress_mbps"]
            hw["lz4_decompress_mbps_per_core"] = hw["data_c_lz4_decompress_mbps"]
    hw.setdefault("cores", int(meta.get("cores", 0)) or None)
    if extra.get(("size", "tar|lz4")):
        s = extra[("size", "tar|lz4")][-1]
        hw["data_bytes"] = s["bytes"]
        hw["lz4_ratio"] = s["bytes"] / s["lz4_bytes"]
    limits = floors(hw, "c")
    codec_floors = floors(hw, "walrs")

    summary = {
        "meta": meta,
        "hardware": hw,
        "limits_seconds": limits,
        "walrs_codec_floor_seconds": codec_floors,
        "times": {f"{op}/{tool}": summarise(v) for (op, tool), v in times.items()},
        "rss_kb": {f"{op}/{tool}": max(v) for (op, tool), v in rss.items()},
        "tps": {tool: summarise(v) for tool, v in tps.items()},
        "tps_steal_adjusted": {tool: summarise([steal_adjusted(r) for r in v]) for tool, v in tps_rows.items()
                               if all("steal" in r for r in v)},
        "tps_cpu_ms_per_transaction": {tool: summarise([cpu_per_transaction(r) for r in v])
                                       for tool, v in tps_rows.items() if all(r.get("transactions") for r in v)},
        "steal": {f"{op}/{tool}": statistics.median(v) for (op, tool), v in steal.items()},
        "targets": [],
    }

    def med(op, tool):
        v = times.get((op, tool))
        return statistics.median(v) if v else None

    for op, tool, ref, want in TARGETS:
        a, b = med(op, tool), med(ref and op, ref)
        if a and b:
            got = b / a
            target = {"what": f"{op}: {tool} vs {ref}", "speedup": round(got, 2), "target": want,
                      "met": got >= want, "needs_seconds": round(b / want, 2)}
            a_adj, b_adj = adjusted.get((op, tool)), adjusted.get((op, ref))
            if a_adj and b_adj:
                target["speedup_steal_adjusted"] = round(statistics.median(b_adj) / statistics.median(a_adj), 2)
            if op in codec_floors:
                target["floor_seconds"] = round(codec_floors[op], 2)
                # Needing less time than lz4 alone takes on every core: walrs cannot reach it here.
                target["out_of_reach"] = not target["met"] and b / want < codec_floors[op]
            if op in limits:
                target["c_lz4_floor_seconds"] = round(limits[op], 2)
            summary["targets"].append(target)
    if tps.get("archive_mode=off") and tps.get("walrs"):
        off, on = statistics.median(tps["archive_mode=off"]), statistics.median(tps["walrs"])
        loss = 1 - on / off if off else 0
        backlog = max((r.get("ready_after", 0) for r in rows if r["op"] == "tps" and r["tool"] == "walrs"), default=0)
        target = {"what": "pgbench TPS with walrs archiving vs archive_mode=off", "loss": round(loss, 4),
                  "target": 0.03, "met": loss <= 0.03 and backlog <= 1, "backlog": backlog}
        adj = summary["tps_steal_adjusted"]
        if "archive_mode=off" in adj and "walrs" in adj:
            target["loss_steal_adjusted"] = round(1 - adj["walrs"]["median"] / adj["archive_mode=off"]["median"], 4)
        per_txn = summary["tps_cpu_ms_per_transaction"]
        if "archive_mode=off" in per_txn and "walrs" in per_txn:
            target["cpu_per_transaction_change"] = round(
                per_txn["walrs"]["median"] / per_txn["archive_mode=off"]["median"] - 1, 4)
        cores = int(meta.get("cores", 0) or 0)
        shares = [archiver_share(r, cores) for r in tps_rows["walrs"] if r.get("archiver_cpu_s")]
        if shares:
            target["archiver_cpu_share"] = round(statistics.median(shares), 4)
        summary["targets"].append(target)
    for name, limit_kb in [("rss/walrs-backup-worker", 256 << 10), ("archive/walrs", 256 << 10),
                           ("rss/fetch-walrs-per-call", 64 << 10)]:
        if name in summary["rss_kb"]:
            got = summary["rss_kb"][name]
            summary["targets"].append(
                {"what": f"peak RSS {name}", "rss_mb": round(got / 1024, 1), "target_mb": limit_kb >> 10,
                 "met": got <= limit_kb}
            )

    summary["encryption_cost"] = paired_cost(rows, "walrs", "walrs-libsodium", OP_TITLES)
    summary["monitoring_cost"] = paired_cost(rows, "walrs", "walrs-watched", ["archive", "tps"])
    md = markdown(summary, times, rss, tps_rows, steal)
    out = raw.with_suffix("")
    Path(f"{out}.json").write_text(json.dumps(summary, indent=2) + "\n")
    Path(f"{out}.md").write_text(md)
    chart(summary, times, Path(f"{out}.png"))
    print(md)


def paired_cost(rows, base, variant, ops):
    """What `variant` costs against `base`, per operation, the two run back to back in each
    round: each round's ratio, then the median of those, so a round the host slowed down counts
    against both sides rather than one. Seconds for timed operations, transactions per second
    for "tps". `spread` is the base's own run-to-run noise: its slowest round over its fastest."""
    by_round = defaultdict(dict)
    for r in rows:
        if r["op"] in ops and r["tool"] in (base, variant):
            by_round[(r["op"], r["round"])][r["tool"]] = r["tps"] if r["op"] == "tps" else r["seconds"]
    out = {}
    for op in ops:
        pairs = [v for (o, _), v in sorted(by_round.items()) if o == op and len(v) == 2]
        if not pairs:
            continue
        ratios = [v[variant] / v[base] for v in pairs]
        bases = [v[base] for v in pairs]
        out[op] = {
            "base": statistics.median(bases),
            "variant": statistics.median(v[variant] for v in pairs),
            "ratio": summarise(ratios),
            "spread": max(bases) / min(bases) if min(bases) else None,
        }
    return out


def steal_adjusted(r):
    """TPS as if the host had taken no CPU: pgbench here is CPU-bound (both cores busy), so its
    rate scales with the CPU time the guest gets."""
    return r["tps"] / max(1 - r["steal"], 0.05)


def cpu_per_transaction(r):
    """Milliseconds of busy guest CPU (every process, both cores) per pgbench transaction. The
    stolen time itself is not in it, but it still rises with steal (final6: walrs 0.57 ms at 1%
    steal, 0.68 ms at 19%), so compare runs with similar steal."""
    return r["busy_cpu_s"] * 1000 / r["transactions"]


def guest_cpu_seconds(r, cores):
    """The CPU time the guest had during a pgbench run: every core, less what the host took."""
    return r["seconds"] * cores * (1 - r["steal"])


def idle_share(r, cores):
    """The share of the CPU the guest had that stayed idle (low: pgbench was CPU-bound)."""
    have = guest_cpu_seconds(r, cores)
    return max(0.0, 1 - r["busy_cpu_s"] / have) if have > 0 else 0


def archiver_share(r, cores):
    """The share of the CPU time the guest had during a pgbench run that walrs's archiver used."""
    have = guest_cpu_seconds(r, cores)
    return r["archiver_cpu_s"] / have if have > 0 else 0


def floors(hw, codec):
    """An estimate of the least time each operation can take on this machine: one lz4
    implementation ("walrs": lz4_flex as walrs uses it, with its frame checksum; "c": liblz4)
    on every core and nothing else. A backup compresses all the data, a restore decompresses
    it, the archiver compresses the WAL backlog. The disk is left out: its rates come from
    single-stream tests that walrs beats (it syncs while it writes), so they are no floor."""
    out = {}
    cores = hw.get("cores")
    if not cores:
        return out
    mb = hw.get("data_codec_mb") or hw.get("data_bytes", 0) / 1e6
    comp = hw.get(f"data_{codec}_lz4_compress_mbps") or (codec == "c" and hw.get("lz4_compress_mbps_per_core"))
    decomp = hw.get(f"data_{codec}_lz4_decompress_mbps") or (codec == "c" and hw.get("lz4_decompress_mbps_per_core"))
    if mb and comp:
        out["backup"] = mb / (comp * cores)
    if mb and decomp:
        out["restore"] = mb / (decomp * cores)
    wal_comp = hw.get(f"wal_{codec}_lz4_compress_mbps")
    if wal_comp:
        out["archive"] = hw["wal_codec_mb"] / (wal_comp * cores)
    return out


def cpu_columns(cpu, cpu_off):
    if not cpu:
        return "– | – | "
    vs = f"{cpu['median'] / cpu_off - 1:+.1%}" if cpu_off else "–"
    return f"{cpu['median']:.3f} ({cpu['min']:.3f}–{cpu['max']:.3f}) | {vs} | "


def verdict(t):
    if t["met"]:
        return "yes"
    return "no: out of reach here (needs < floor)" if t.get("out_of_reach") else "no"


def pct(values):
    return "–" if not values else f"{statistics.median(values) * 100:.0f}%"


def fmt(x):
    return "–" if x is None else f"{x:.2f}"


def markdown(summary, times, rss, tps_rows, steal):
    m, hw, limits = summary["meta"], summary["hardware"], summary["limits_seconds"]
    lines = [f"# walrs bench {Path(sys.argv[1]).stem}", ""]
    lines.append(
        f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('memory_gb', '?')} GB; "
        f"load average before the run {m.get('load_before', '?')}. PostgreSQL {m.get('postgresql', '?')}, "
        f"pgBackRest {m.get('pgbackrest', '?')}, walrs {m.get('walrs', '?')}."
    )
    if "data_bytes" in hw:
        lines.append(
            f"Data: pgbench scale {m.get('scale')} + {m.get('random_mb')} MB random text = "
            f"{hw['data_bytes'] / 1e9:.2f} GB data directory"
            + (f", tar|lz4 ratio {hw['lz4_ratio']:.2f}" if "lz4_ratio" in hw else "")
            + f"; {m.get('rounds')} interleaved rounds, warm page cache."
        )
    if "read_mbps" in hw:
        lines.append(
            f"Hardware (rates: the best round): page-cache read {hw['read_mbps']:.0f} MB/s"
            + (f", durable write (4 writers, fdatasync) {hw['write_mbps']:.0f} MB/s" if "write_mbps" in hw else "")
            + f"; C lz4 per core {hw.get('lz4_compress_mbps_per_core', 0):.0f} MB/s compress, "
            f"{hw.get('lz4_decompress_mbps_per_core', 0):.0f} MB/s decompress."
        )
    for kind, title in (("data", "the data directory"), ("wal", "the WAL backlog")):
        if f"{kind}_codec_mb" in hw:
            lines.append(
                f"lz4 on one core, {title} ({hw[f'{kind}_codec_mb']:.0f} MB): walrs (lz4_flex) "
                f"{hw[f'{kind}_walrs_lz4_compress_mbps']:.0f} MB/s compress, "
                f"{hw[f'{kind}_walrs_lz4_decompress_mbps']:.0f} MB/s decompress; C lz4 "
                f"{hw[f'{kind}_c_lz4_compress_mbps']:.0f} / {hw[f'{kind}_c_lz4_decompress_mbps']:.0f} MB/s."
            )
    lines += ["", "| operation | tool | median s | min–max s | pgBackRest ÷ tool | hardware limit ÷ tool | peak RSS MB "
              "| CPU stolen by the host, median |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for op in OP_TITLES:
        tools = sorted((t for (o, t) in times if o == op), key=lambda t: statistics.median(times[(op, t)]))
        ref = times.get((op, REFERENCE[op]))
        for tool in tools:
            v = times[(op, tool)]
            med = statistics.median(v)
            vs_ref = statistics.median(ref) / med if ref else None
            vs_hw = limits[op] / med if op in limits else None
            peak = max(rss[(op, tool)]) / 1024 if rss.get((op, tool)) else None
            if op == "backup" and rss.get(("rss", f"{tool}-backup-worker")):
                peak = max(rss[("rss", f"{tool}-backup-worker")]) / 1024
            if op == "fetch" and rss.get(("rss", f"fetch-{tool}-per-call")):
                peak = max(rss[("rss", f"fetch-{tool}-per-call")]) / 1024
            lines.append(
                f"| {OP_TITLES[op]} | {tool} | {med:.2f} | {min(v):.2f}–{max(v):.2f} | {fmt(vs_ref)} | "
                f"{fmt(vs_hw)} | {'–' if peak is None else f'{peak:.0f}'} | {pct(steal.get((op, tool)))} |"
            )
    if tps_rows:
        adj = summary["tps_steal_adjusted"]
        per_txn, cores = summary["tps_cpu_ms_per_transaction"], int(summary["meta"].get("cores", 0) or 0)
        lines += ["", "| pgbench TPS | median | min–max | vs archive_mode=off | CPU stolen, per run | "
                  "TPS adjusted for steal, median | adjusted vs off | CPU ms per transaction, median (min–max) "
                  "| vs off | guest CPU idle, per run |", "|---|---:|---:|---:|---|---:|---:|---:|---:|---|"]
        off = summary["tps"].get("archive_mode=off", {}).get("median")
        adj_off = adj.get("archive_mode=off", {}).get("median")
        cpu_off = per_txn.get("archive_mode=off", {}).get("median")
        for tool, runs in tps_rows.items():
            v = [r["tps"] for r in runs]
            med = statistics.median(v)
            stolen = ", ".join(pct([r["steal"]]) for r in runs if "steal" in r)
            a = adj.get(tool, {}).get("median")
            lines.append(f"| {tool} | {med:.0f} | {min(v):.0f}–{max(v):.0f} | {fmt(med / off if off else None)} | "
                         f"{stolen or '–'} | {'–' if a is None else f'{a:.0f}'} | "
                         f"{fmt(a / adj_off if a and adj_off else None)} | " + cpu_columns(per_txn.get(tool), cpu_off)
                         + (", ".join(pct([idle_share(r, cores)]) for r in runs) if tool in per_txn and cores else "–")
                         + " |")
    if summary["encryption_cost"]:
        lines += ["", "| encryption cost | walrs, median s | walrs with libsodium, median s "
                  "| with ÷ without, median of rounds (min–max) |", "|---|---:|---:|---:|"]
        for op, c in summary["encryption_cost"].items():
            q = c["ratio"]
            lines.append(f"| {OP_TITLES[op]} | {c['base']:.2f} | {c['variant']:.2f} | "
                         f"{q['median']:.2f} ({q['min']:.2f}–{q['max']:.2f}) |")
    if summary["monitoring_cost"]:
        lines += ["", "| monitoring cost (exporter queries once a second) | walrs, median | walrs watched, median "
                  "| watched ÷ not, median of rounds (min–max) | walrs alone, slowest ÷ fastest round |",
                  "|---|---:|---:|---:|---:|"]
        for op, c in summary["monitoring_cost"].items():
            q, title = c["ratio"], "pgbench TPS" if op == "tps" else f"{OP_TITLES[op]}, s"
            lines.append(f"| {title} | {c['base']:.2f} | {c['variant']:.2f} | {q['median']:.3f} "
                         f"({q['min']:.3f}–{q['max']:.3f}) | {fmt(c['spread'])} |")
    if summary["targets"]:
        lines += ["", "| target | got | wanted | met | needs ≤ s | floor s, walrs lz4 | floor s, C lz4 "
                  "| got, adjusted for steal |",
                  "|---|---:|---:|---|---:|---:|---:|---:|"]
        for t in summary["targets"]:
            if "speedup" in t:
                lines.append(f"| {t['what']} | {t['speedup']}× | ≥{t['target']}× | {verdict(t)} | "
                             f"{t['needs_seconds']:.2f} | {fmt(t.get('floor_seconds'))} | "
                             f"{fmt(t.get('c_lz4_floor_seconds'))} | "
                             + (f"{t['speedup_steal_adjusted']}× |" if "speedup_steal_adjusted" in t else "– |"))
            elif "loss" in t:
                change = -t["loss"] * 100
                more = ""
                if "loss_steal_adjusted" in t:
                    more += f" ({-t['loss_steal_adjusted'] * 100:+.1f}% adjusted for steal)"
                if "cpu_per_transaction_change" in t:
                    more += f"; CPU per transaction {t['cpu_per_transaction_change'] * 100:+.1f}%"
                if "archiver_cpu_share" in t:
                    more += f"; the archiver used {t['archiver_cpu_share'] * 100:.1f}% of the guest's CPU"
                lines.append(f"| {t['what']} | {change:+.1f}% TPS{more}, {t['backlog']} .ready left | ≥−3%, no backlog | "
                             f"{'yes' if t['met'] else 'no'} | | | | |")
            else:
                lines.append(f"| {t['what']} | {t['rss_mb']} MB | ≤{t['target_mb']} MB | {'yes' if t['met'] else 'no'} "
                             "| | | | |")
    lines.append("")
    lines.append("Floors: the least time on this machine with every core busy in lz4 (with its frame checksum) "
                 "and nothing else (backup: compress the data; restore: decompress it; archive: compress the "
                 "backlog), from the best round of each rate. Reading, writing, syncing and everything else "
                 "come on top, so a target whose \"needs\" is below the walrs floor is out of reach in this "
                 "run. The disk is left out of the floors: its rates above come from single-stream tests that "
                 "walrs beats, because it syncs while it writes. The machine's speed drifts between runs.")
    lines.append("")
    lines.append("Archive RSS is the archiver process's VmHWM (walrs, basic_archive: the module runs in it; "
                 "pgBackRest and cp: the archiver only, not the commands it starts).")
    return "\n".join(lines) + "\n"


def chart(summary, times, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"report: matplotlib missing, no chart ({path})", file=sys.stderr)
        return
    ops = [op for op in OP_TITLES if any(o == op for (o, _) in times)]
    if not ops:
        return
    fig, axes = plt.subplots(len(ops), 1, figsize=(8, 2.2 * len(ops)), squeeze=False)
    for ax, op in zip(axes[:, 0], ops):
        tools = sorted((t for (o, t) in times if o == op), key=lambda t: -statistics.median(times[(op, t)]))
        meds = [statistics.median(times[(op, t)]) for t in tools]
        lo = [m - min(times[(op, t)]) for m, t in zip(meds, tools)]
        hi = [max(times[(op, t)]) - m for m, t in zip(meds, tools)]
        colors = ["tab:orange" if t == "walrs" else "tab:gray" for t in tools]
        ax.barh(tools, meds, xerr=[lo, hi], color=colors)
        if op in summary["limits_seconds"]:
            ax.axvline(summary["limits_seconds"][op], color="tab:green", linestyle="--", label="hardware limit")
            ax.legend(loc="lower right", fontsize=7)
        ax.set_title(OP_TITLES[op], fontsize=9)
        ax.set_xlabel("seconds (median, min–max)", fontsize=8)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
