#!/usr/bin/env python3
"""Record a model's training score distribution for the model-monitoring report's PSI.

The shares come from `vigil replay` (the scorer's own code path, so the scores are the ones
production computes), over the model's training window, per tenth of the score range,
bucketed as `infra/reports/model-monitoring/*.sql` bucket them. Each model version keeps its
row set in `infra/reports/baselines.sql`, so a period scored by an older model is still
compared with that model's own baseline. Standard library only: `train.py` calls `record`
after exporting a model; run it alone to (re)record the shipped model:

    python3 infra/model/baseline.py --version lgbm-2018-08-01 --from 2018-05-08 --until 2018-08-01 \\
        --transactions ../shared/data/fraud-handbook/transactions.csv.gz --scores scores.csv
"""
import argparse
import csv
import gzip
import math
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASELINES = ROOT / "infra" / "reports" / "baselines.sql"
BUCKETS = 10

HEADER = """\
-- Written by infra/model/baseline.py (called by train.py): each model's score distribution
-- over its training window, as the share of card payments per tenth of the score range.
-- The model-monitoring report's PSI compares a period's scores with the baseline of the
-- model version that scored them. One block of rows per model version; keep old ones.
score_baseline AS (
  SELECT model_version, bucket, CAST(share AS DOUBLE) AS share
  FROM (VALUES
"""
FOOTER = """\
  ) AS b (model_version, bucket, share)
)
"""
ROW = re.compile(r"^\s*\('([^']+)', (\d+), ([0-9.eE+-]+)\),?\s*$")


def shares(transactions: Path, scores: Path, start: str, until: str) -> list[float]:
    """Share of the window's transactions in each score tenth (timestamps in [start, until))."""
    opener = gzip.open if transactions.suffix == ".gz" else open
    with opener(transactions, "rt", newline="") as f:
        window = {r["transaction_id"] for r in csv.DictReader(f) if start <= r["tx_datetime"][:10] < until}
    counts = [0] * BUCKETS
    with open(scores, newline="") as f:
        for r in csv.DictReader(f):
            # Rows the scorer refused carry score 0 and are in no lake: not in the baseline.
            if r["transaction_id"] in window and r["decision"] != "QUARANTINE":
                counts[min(math.floor(float(r["score"]) * BUCKETS), BUCKETS - 1)] += 1
    total = sum(counts)
    if total == 0:
        raise SystemExit(f"no scored transactions in [{start}, {until})")
    return [c / total for c in counts]


def read() -> dict[str, list[float]]:
    """The versions already recorded, in file order."""
    recorded: dict[str, list[float]] = {}
    if BASELINES.exists():
        for line in BASELINES.read_text().splitlines():
            if m := ROW.match(line):
                recorded.setdefault(m[1], [0.0] * BUCKETS)[int(m[2])] = float(m[3])
    return recorded


def record(version: str, values: list[float]) -> None:
    if not re.fullmatch(r"[A-Za-z0-9._-]+", version):
        raise SystemExit(f"model version {version!r} is not a plain identifier")
    recorded = read()
    recorded[version] = values
    rows = [f"    ('{v}', {b}, {share:.10f})" for v, per in recorded.items() for b, share in enumerate(per)]
    BASELINES.write_text(HEADER + ",\n".join(rows) + "\n" + FOOTER)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", required=True)
    ap.add_argument("--from", dest="start", required=True, help="first training day (YYYY-MM-DD)")
    ap.add_argument("--until", required=True, help="day after the last training day")
    ap.add_argument("--transactions", type=Path, required=True)
    ap.add_argument("--scores", type=Path, required=True, help="`vigil replay --out` of this model")
    args = ap.parse_args()
    values = shares(args.transactions, args.scores, args.start, args.until)
    record(args.version, values)
    print(f"{args.version}: " + " ".join(f"{s:.6f}" for s in values))


if __name__ == "__main__":
    main()
