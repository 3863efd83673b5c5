"""Does a run give the same answer as a full-work run of the same data? (issue 13's checks)

    python3 bench/same_answer.py THOROUGH_RUN_DIR OTHER_RUN_DIR TOP_M

Compares two fox-engine run directories: the target order (ranking.json), the leakage
verdicts (leakage_report.json: dropped features and each finding's confirmed flag), the
top-TOP_M selected features of every trained target (Jaccard, target ≥ 0.9) and the held-out
skill of every trained model (|difference|, target ≤ 0.005). Prints one line per check and
a JSON line with everything; exits 1 if any check fails. Standard library only.
"""

import json
import sys
from pathlib import Path


def load(d, name):
    return json.loads((Path(d) / name).read_text())


def main():
    a, b, top_m = sys.argv[1], sys.argv[2], int(sys.argv[3])
    out = {}
    order_a = [t["target"] for t in load(a, "ranking.json")["targets"]]
    order_b = [t["target"] for t in load(b, "ranking.json")["targets"]]
    out["same_order"] = order_a == order_b

    def verdicts(d):
        r = load(d, "leakage_report.json")
        findings = sorted(
            (f["feature"], f.get("target") or "", f["check"], bool(f.get("confirmed")))
            for f in r["findings"]
        )
        return sorted(r["dropped"]), findings

    out["same_verdicts"] = verdicts(a) == verdicts(b)

    jaccard = {}
    for f in sorted((Path(a) / "selected_features").glob("*.txt")):
        other = Path(b) / "selected_features" / f.name
        sa = set(f.read_text().split()[:top_m])
        sb = set(other.read_text().split()[:top_m]) if other.exists() else set()
        jaccard[f.stem] = len(sa & sb) / max(1, len(sa | sb))
    out["jaccard"] = jaccard
    out["min_jaccard"] = min(jaccard.values()) if jaccard else 0.0

    skill = {}
    ma, mb = load(a, "metrics.json"), load(b, "metrics.json")
    for target, fams in ma.items():
        for fam, m in fams.items():
            other = mb.get(target, {}).get(fam)
            skill[f"{target}/{fam}"] = (
                abs(m["skill"]["mean"] - other["skill"]["mean"]) if other else float("inf")
            )
    out["skill_diff"] = skill
    out["max_skill_diff"] = max(skill.values()) if skill else float("inf")

    ok = {
        "same target order": out["same_order"],
        "same leakage verdicts": out["same_verdicts"],
        f"top-{top_m} Jaccard ≥ 0.9 (min {out['min_jaccard']:.3f})": out["min_jaccard"] >= 0.9,
        f"held-out skill within 0.005 (max |Δ| {out['max_skill_diff']:.4f})": out["max_skill_diff"] <= 0.005,
    }
    for what, good in ok.items():
        print(f"{'ok  ' if good else 'FAIL'} {what}")
    if not out["same_order"]:
        print(f"     thorough: {order_a}\n     other:    {order_b}")
    print(json.dumps(out))
    sys.exit(0 if all(ok.values()) else 1)


if __name__ == "__main__":
    main()
