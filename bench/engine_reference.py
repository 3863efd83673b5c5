"""Python reference of the fox-engine pipeline for the full-pipeline benchmark
(bench/engine_bench.sh): the same stages with pandas + scikit-learn + LightGBM, written the
way such a pipeline is usually written (one LightGBM Dataset per target and fold, pandas
groupby for per-timestamp metrics, re-prediction for permutation importance).

Usage: engine_reference.py DATA.csv OUT_DIR THREADS N_TREES NUM_LEAVES LR N_SPLITS TOP_N TOP_M
"""
import json
import os
import re
import sys
import time

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score

NAME_RULES = ["^y_", "^p_", "fwd_ret_", "^target_", "barrier_", "^mfe_", "^mdd_", "^tth_"]
TARGET_RE = re.compile("^(y_|fwd_ret_|target_)")


def horizon_secs(name, bar):
    m = re.search(r"(?:^|_)(\d+)(s|min|m|h|d)(?:_|$)", name)
    if not m:
        return bar
    return int(m.group(1)) * {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}[m.group(2)]


def per_ts_skill(ts, pred, y, binary):
    d = pd.DataFrame({"ts": ts, "p": pred, "y": y}).dropna()
    if binary:
        vals = d.groupby("ts").apply(lambda g: roc_auc_score(g["y"], g["p"]) - 0.5 if g["y"].nunique() == 2 else np.nan, include_groups=False)
    else:
        d["pr"] = d.groupby("ts")["p"].rank()
        d["yr"] = d.groupby("ts")["y"].rank()
        vals = d.groupby("ts")[["pr", "yr"]].apply(lambda g: g["pr"].corr(g["yr"]))
    vals = vals.dropna()
    n = len(vals)
    mean, std = float(vals.mean()), float(vals.std()) if n > 1 else 0.0
    t = float(np.clip(mean / max(std / np.sqrt(max(n, 1)), 1e-6), -12, 12))
    comp = 0.0 if n < 20 else 1 / (1 + np.exp(-t / 3)) * (0.7 + 0.3 * np.clip((n - 20) / 10, 0, 1))
    return {"mean": mean, "std": std, "n": n, "t": t, "composite": float(comp)}


def folds(ts_sorted, horizon, bar, n_splits, buffer=5):
    uniq = np.unique(ts_sorted)
    purge = horizon + buffer * bar
    blocks = n_splits + 1
    out = []
    for b in range(1, blocks):
        t0, t1 = uniq[b * len(uniq) // blocks], uniq[(b + 1) * len(uniq) // blocks - 1]
        train_end = np.searchsorted(ts_sorted, t0 - purge, side="right")
        test = (np.searchsorted(ts_sorted, t0, side="left"), np.searchsorted(ts_sorted, t1, side="right"))
        out.append((train_end, test))
    return out


def lookahead(df, feats, target, horizon):
    uniq = np.unique(df["ts"])
    sample = set(uniq[:: max(1, len(uniq) // 400)])
    d = df[df["ts"].isin(sample)][["ts", "symbol", target] + feats].copy()
    lag = df[["ts", "symbol", target]].copy()
    lag["ts"] = lag["ts"] + horizon
    d = d.merge(lag.rename(columns={target: "ylag"}), on=["ts", "symbol"], how="left")
    ranks = d.groupby("ts")[feats + [target, "ylag"]].rank()
    ranks["ts"] = d["ts"]
    dm = ranks.groupby("ts").transform(lambda c: c - c.mean())
    dm["ts"] = d["ts"]

    def mean_corr(a, b):
        num = (dm[a] * dm[b]).groupby(dm["ts"]).sum()
        den = np.sqrt((dm[a] ** 2).groupby(dm["ts"]).sum() * (dm[b] ** 2).groupby(dm["ts"]).sum())
        return float((num / den).replace([np.inf, -np.inf], np.nan).dropna().mean())

    own = mean_corr("ylag", target)
    return {f: (mean_corr(f, target), mean_corr(f, "ylag"), own) for f in feats}


LGB_TIME = {"dataset_s": 0.0, "train_s": 0.0, "fits": 0}


def fit(params, X, y, objective, n_trees):
    """One LightGBM fit on a fresh Dataset, timing Dataset construction (binning) and boosting
    separately, so the report can say how much of the reference is LightGBM itself."""
    t0 = time.perf_counter()
    ds = lgb.Dataset(X, label=y, params={"max_bin": 255, "verbose": -1}).construct()
    t1 = time.perf_counter()
    m = lgb.train(dict(params, objective=objective), ds, num_boost_round=n_trees)
    t2 = time.perf_counter()
    LGB_TIME["dataset_s"] += t1 - t0
    LGB_TIME["train_s"] += t2 - t1
    LGB_TIME["fits"] += 1
    return m


def main():
    path, out = sys.argv[1], sys.argv[2]
    threads, n_trees, leaves, lr, n_splits, top_n, top_m = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])
    t_start = time.perf_counter()
    stages = {}
    t = time.perf_counter()
    df = pd.read_csv(path).sort_values(["ts", "symbol"], kind="stable").reset_index(drop=True)
    cs = df.groupby("ts")["symbol"].transform("count")
    df = df[cs >= 10].reset_index(drop=True)
    targets = [c for c in df.columns if TARGET_RE.match(c)]
    feats = [c for c in df.columns if c not in targets and c not in ("ts", "symbol")]
    feats = [f for f in feats if df[f].nunique(dropna=True) > 1]
    bar = int(np.median(np.diff(np.unique(df["ts"]))))
    stages["load"] = time.perf_counter() - t

    t = time.perf_counter()
    dropped = set(f for f in feats if any(re.search(p, f) for p in NAME_RULES))
    for tg in targets:
        binary = set(df[tg].dropna().unique()) <= {0.0, 1.0}
        h = horizon_secs(tg, bar)
        for f in feats:
            ok = df[f].notna() & df[tg].notna()
            if binary:
                eq = (df.loc[ok, f] == df.loc[ok, tg]).mean()
                fl = (df.loc[ok, f] == 1 - df.loc[ok, tg]).mean()
                if max(eq, fl) >= 0.999:
                    dropped.add(f)
            elif abs(np.corrcoef(df.loc[ok, f], df.loc[ok, tg])[0, 1]) >= 0.999:
                dropped.add(f)
        for f, (ic, ic_lag, own) in lookahead(df, feats, tg, h).items():
            if abs(ic) >= 0.2 and (abs(ic) >= 3 * max(abs(ic_lag), 0.02) or abs(ic) >= 3 * max(abs(own), 0.02)):
                dropped.add(f)
    feats = [f for f in feats if f not in dropped]
    stages["leakage"] = time.perf_counter() - t

    X = df[feats].to_numpy(np.float32)
    ts = df["ts"].to_numpy()
    params = dict(num_leaves=leaves, learning_rate=lr, min_data_in_leaf=20, lambda_l2=1.0, max_bin=255, num_threads=threads, verbose=-1, deterministic=True, seed=7)

    t = time.perf_counter()
    ranking, evals = [], {}
    for tg in targets:
        y = df[tg].to_numpy()
        binary = set(np.unique(y[~np.isnan(y)])) <= {0.0, 1.0}
        h = horizon_secs(tg, bar)
        oos = np.full(len(df), np.nan)
        gains, perms = [], []
        for train_end, (a, b) in folds(ts, h, bar, n_splits):
            tr = np.arange(train_end)
            tr = tr[~np.isnan(y[tr])]
            m = fit(params, X[tr], y[tr], "binary" if binary else "regression", n_trees)
            oos[a:b] = m.predict(X[a:b], raw_score=True)
            g = m.feature_importance("gain")
            gains.append(g / max(g.sum(), 1e-12))
            pa = max(a, b - 20000)
            base = per_ts_skill(ts[pa:b], oos[pa:b], y[pa:b], binary)["mean"]
            rng = np.random.default_rng(7)
            drops = np.zeros(len(feats))
            for j in np.nonzero(g)[0]:
                Xp = X[pa:b].copy()
                Xp[:, j] = rng.permutation(Xp[:, j])
                drops[j] = max(base - per_ts_skill(ts[pa:b], m.predict(Xp, raw_score=True), y[pa:b], binary)["mean"], 0.0)
            perms.append(drops / max(drops.sum(), 1e-12))
        sk = per_ts_skill(ts, oos, y, binary)
        ranking.append({"target": tg, "binary": binary, **sk, "suspicious": sk["mean"] > (0.4 if binary else 0.5)})
        evals[tg] = (np.mean(gains, axis=0), np.mean(perms, axis=0), binary)
    ranking.sort(key=lambda r: (r["suspicious"], -r["composite"], -r["mean"]))
    stages["ranking"] = time.perf_counter() - t

    t = time.perf_counter()
    selected = {}
    for r in [r for r in ranking if not r["suspicious"] and r["n"] >= 20][:top_n]:
        tg = r["target"]
        y = df[tg].to_numpy()
        gain, perm, binary = evals[tg]
        coefs = []
        for train_end, _ in folds(ts, horizon_secs(tg, bar), bar, n_splits):
            tr = np.arange(train_end)
            tr = tr[~np.isnan(y[tr])]
            Xt = X[tr]
            mu, sd = np.nanmean(Xt, axis=0), np.nanstd(Xt, axis=0)
            Z = np.nan_to_num((Xt - mu) / np.where(sd > 0, sd, 1))
            lm = LogisticRegression(C=1.0, max_iter=200) if binary else Ridge(alpha=1.0)
            lm.fit(Z, y[tr])
            c = np.abs(np.ravel(lm.coef_))
            coefs.append(c / max(c.sum(), 1e-12))
        comb = (1.0 * gain + 0.7 * np.mean(coefs, axis=0) + 1.0 * perm) / 2.7
        order = np.argsort(-comb, kind="stable")[:top_m]
        selected[tg] = [feats[i] for i in order]
    stages["selection"] = time.perf_counter() - t

    t = time.perf_counter()
    metrics = {}
    os.makedirs(os.path.join(out, "models"), exist_ok=True)
    for tg, sel in selected.items():
        y = df[tg].to_numpy()
        binary = evals[tg][2]
        idx = [feats.index(f) for f in sel]
        Xs = X[:, idx]
        oos = np.full(len(df), np.nan)
        for train_end, (a, b) in folds(ts, horizon_secs(tg, bar), bar, n_splits):
            tr = np.arange(train_end)
            tr = tr[~np.isnan(y[tr])]
            m = fit(params, Xs[tr], y[tr], "binary" if binary else "regression", n_trees)
            oos[a:b] = m.predict(Xs[a:b], raw_score=True)
        metrics[tg] = per_ts_skill(ts, oos, y, binary)
        ok = ~np.isnan(y)
        final = fit(params, Xs[ok], y[ok], "binary" if binary else "regression", n_trees)
        final.save_model(os.path.join(out, "models", f"{tg}.txt"))
    stages["training"] = time.perf_counter() - t

    pd.DataFrame(ranking).to_csv(os.path.join(out, "target_ranking.csv"), index=False)
    with open(os.path.join(out, "metrics.json"), "w") as fh:
        json.dump({"metrics": metrics, "selected": selected, "dropped": sorted(dropped), "stages_s": stages, "lightgbm": LGB_TIME, "total_s": time.perf_counter() - t_start}, fh, indent=1)
    print(json.dumps({"impl": "python-reference", "total_s": time.perf_counter() - t_start, "stages_s": stages, "lightgbm": LGB_TIME, "heldout": {k: v["mean"] for k, v in metrics.items()}}))


if __name__ == "__main__":
    main()
