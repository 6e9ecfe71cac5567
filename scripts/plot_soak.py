"""The soak run's series over time, one panel each: RSS, open descriptors, database size and the
p95 final latency per minute (scripts/soak.sh runs it on target/soak/report.json).

    python scripts/plot_soak.py target/soak/report.json target/soak/soak.png
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (after the backend is chosen)
from matplotlib.ticker import MaxNLocator  # noqa: E402


def main(report_path: str, png_path: str) -> None:
    report = json.load(open(report_path))
    # the `end` row (after the load test exited) is left out: the x axis is minutes of load
    rows = [s for s in report["samples"] if s["minute"] != "end"]
    minute = [int(s["minute"]) for s in rows]
    verdict = report["verdict"]
    p95 = [(int(s["minute"]), s["p95_ms"]) for s in rows if s["p95_ms"] is not None]
    panels = [
        ("RSS (MiB)", [s["rss_mib"] for s in rows], minute),
        ("open fds", [s["fds"] for s in rows], minute),
        ("SQLite files (MiB)", [s["db_mib"] for s in rows], minute),
        ("p95 final latency\nof the minute (ms)", [v for _, v in p95], [m for m, _ in p95]),
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 7.5), sharex=True)
    for ax, (label, ys, xs) in zip(axes, panels):
        ax.plot(xs, ys, marker=".", linewidth=1)
        ax.set_ylabel(label, fontsize=9)
        ax.set_ylim(bottom=0, top=max(ys, default=1) * 1.15)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    # the window the growth goal is judged on
    g = verdict["rss"]
    for ax in axes[:2]:
        ax.axvspan(g["from_minute"], g["to_minute"], color="tab:green", alpha=0.08)
    axes[-1].set_xlabel("minute of the run", fontsize=9)
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(
        f"callscribe soak: {report['calls']} calls × {report['minutes']} min, "
        f"{report['started_utc'][:10]}\n"
        f"RSS {g['growth_pct']:+}% and fds {verdict['fds']['growth_pct']:+}% over minutes "
        f"{g['from_minute']}–{g['to_minute']} (shaded); finals "
        f"{verdict['finals_expected'] - verdict['finals_missing']}/{verdict['finals_expected']}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(png_path, dpi=80)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: plot_soak.py REPORT.json OUT.png")
    main(sys.argv[1], sys.argv[2])
