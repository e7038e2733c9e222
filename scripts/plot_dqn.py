#!/usr/bin/env python3
"""Learning curves of vkwb DQN runs as a self-contained SVG (standard library only).

usage: scripts/plot_dqn.py OUT.svg RUN_DIR[=LABEL] [RUN_DIR[=LABEL] ...]

One panel per run: the mean training-episode return of each metrics row (thin line, smoothed over
20 rows) and the evaluation return (dots with the mean, every eval_every frames, epsilon 0).
"""
import csv
import math
import sys


def read(run):
    rows = list(csv.DictReader(open(f"{run}/metrics.csv")))
    train, evals = [], []
    for r in rows:
        f = int(float(r["step"]))
        v = float(r["episode_return"])
        if not math.isnan(v):
            train.append((f, v))
        e = float(r["eval_return"])
        if not math.isnan(e):
            evals.append((f, e))
    return train, evals


def smooth(points, k=20):
    out, acc = [], []
    for f, v in points:
        acc.append(v)
        if len(acc) > k:
            acc.pop(0)
        out.append((f, sum(acc) / len(acc)))
    return out


def nice_max(v):
    if v <= 1:
        return 1.0
    mag = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * mag:
            return m * mag
    return 10 * mag


def panel(x0, y0, w, h, title, train, evals):
    fmax = max([f for f, _ in train + evals] + [1])
    fmax = nice_max(fmax)
    vmax = nice_max(max([v for _, v in train + evals] + [1]))
    X = lambda f: x0 + w * f / fmax
    Y = lambda v: y0 + h - h * v / vmax
    s = [f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#888"/>',
         f'<text x="{x0 + w / 2}" y="{y0 - 8}" text-anchor="middle" font-size="14">{title}</text>']
    for i in range(6):
        f = fmax * i / 5
        s.append(f'<line x1="{X(f)}" y1="{y0 + h}" x2="{X(f)}" y2="{y0 + h + 4}" stroke="#888"/>')
        s.append(f'<text x="{X(f)}" y="{y0 + h + 16}" text-anchor="middle" font-size="10">{f / 1e6:g}M</text>')
        v = vmax * i / 5
        s.append(f'<line x1="{x0}" y1="{Y(v)}" x2="{x0 + w}" y2="{Y(v)}" stroke="#eee"/>')
        s.append(f'<text x="{x0 - 4}" y="{Y(v) + 3}" text-anchor="end" font-size="10">{v:g}</text>')
    if train:
        pts = " ".join(f"{X(f):.1f},{Y(v):.1f}" for f, v in smooth(train))
        s.append(f'<polyline points="{pts}" fill="none" stroke="#4a90d9" stroke-width="1.2"/>')
    if evals:
        pts = " ".join(f"{X(f):.1f},{Y(v):.1f}" for f, v in evals)
        s.append(f'<polyline points="{pts}" fill="none" stroke="#d9534f" stroke-width="1.5"/>')
        for f, v in evals:
            s.append(f'<circle cx="{X(f):.1f}" cy="{Y(v):.1f}" r="2.5" fill="#d9534f"/>')
    s.append(f'<text x="{x0 + 6}" y="{y0 + 14}" font-size="10" fill="#4a90d9">training episodes (smoothed)</text>')
    s.append(f'<text x="{x0 + 6}" y="{y0 + 27}" font-size="10" fill="#d9534f">evaluation, eps 0</text>')
    return s


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, runs = sys.argv[1], sys.argv[2:]
    w, h, pad = 420, 240, 60
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{len(runs) * (w + pad) + pad}" height="{h + 2 * pad}" '
           f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>']
    for i, spec in enumerate(runs):
        run, _, label = spec.partition("=")
        train, evals = read(run)
        svg += panel(pad + i * (w + pad), pad - 20, w, h, label or run, train, evals)
    svg.append("</svg>")
    open(out, "w").write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
