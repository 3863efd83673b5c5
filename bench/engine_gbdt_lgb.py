"""LightGBM side of the GBDT benchmark (bench/engine_bench.sh): same split, same
hyperparameters as `cargo bench -p fox-engine --bench gbdt`; prints one JSON line per target.

Usage: engine_gbdt_lgb.py DATA.csv THREADS N_TREES NUM_LEAVES LR
Targets: FOX_BENCH_TARGETS (comma-separated, default fwd_ret_15m,y_up_15m).
LightGBM's histogram layout: LGB_LAYOUT = col (force_col_wise, default), row (force_row_wise)
or auto (LightGBM times both on the first iteration and keeps the faster).
"""
import json
import os
import sys
import time

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def rank_ic(df, pred, target):
    d = pd.DataFrame({"ts": df["ts"].to_numpy(), "p": pred, "y": df[target].to_numpy()}).dropna()
    ics = d.groupby("ts").apply(lambda g: g["p"].rank().corr(g["y"].rank()) if len(g) > 2 else np.nan, include_groups=False)
    return float(ics.dropna().mean())


def main():
    path, threads, n_trees, leaves, lr = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    df = pd.read_csv(path)
    targets = [c for c in df.columns if c.startswith(("y_", "fwd_ret_", "target_"))]
    feats = [c for c in df.columns if c not in targets and c not in ("ts", "symbol") and not c.startswith(("leak_", "p_"))]
    uniq = np.sort(df["ts"].unique())
    cut = uniq[len(uniq) * 8 // 10]
    bar = int(np.median(np.diff(uniq)))
    train_mask = df["ts"] <= cut - 12 * bar
    test = df[df["ts"] >= cut]
    only = os.environ.get("FOX_BENCH_TARGETS", "fwd_ret_15m,y_up_15m").split(",")
    for t in targets:
        if t not in only:
            continue
        binary = set(df[t].dropna().unique()) <= {0.0, 1.0}
        tr = df[train_mask & df[t].notna()]
        params = dict(objective="binary" if binary else "regression", num_leaves=leaves, learning_rate=lr,
                      min_data_in_leaf=20, lambda_l2=1.0, max_bin=255, num_threads=threads, verbose=-1,
                      deterministic=True, seed=7)
        layout = os.environ.get("LGB_LAYOUT", "col")
        if layout in ("col", "row"):
            params["force_col_wise" if layout == "col" else "force_row_wise"] = True
        t0 = time.perf_counter()
        ds = lgb.Dataset(tr[feats].to_numpy(np.float32), label=tr[t].to_numpy(), params={"max_bin": 255, "verbose": -1})
        ds.construct()
        bin_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        m = lgb.train(params, ds, num_boost_round=n_trees)
        train_s = time.perf_counter() - t1
        pred = m.predict(test[feats].to_numpy(np.float32), raw_score=True, num_threads=threads)
        out = {"impl": "lightgbm", "layout": layout, "target": t, "threads": threads, "rows_train": len(tr), "bin_s": bin_s, "train_s": train_s}
        if binary:
            ok = test[t].notna()
            out.update(rank_ic=None, auc=float(roc_auc_score(test[t][ok], pred[ok.to_numpy()])))
        else:
            out.update(rank_ic=rank_ic(test, pred, t), auc=None)
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
