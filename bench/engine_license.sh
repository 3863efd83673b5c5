# Sourced by the engine benchmarks: `fox-engine run` needs a license, so this machine is
# licensed the way an air-gapped install is — a throw-away platform database and signing key,
# a Desk license from `fox license issue`, an offline activation file from
# `fox license offline-activation` for this machine's fingerprint, installed with
# `fox-engine license install`. Exports FOX_LICENSE_DIR, FOX_LICENSE_PUBLIC_KEY and
# FOX_LICENSE_KEY for the runs that follow; drops the database again.
# Usage: license_engine ENGINE FOX WORKDIR
license_engine() {
  local engine=$1 fox=$2 dir=$3 db=fox_bench_license_$$ signing public issued id key fp
  mkdir -p "$dir/fox-license"
  pg_isready -h 127.0.0.1 -p 5432 -q || pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  read -r signing public < <("$fox" license keygen 2>/dev/null | awk '/^signing_key:/ {s=$2} /^public_key:/ {p=$2} END {print s, p}')
  issued=$(FOX__DATABASE__NAME=$db FOX__LICENSE__SIGNING_KEY=$signing FOX__LOG__LEVEL=warn \
    "$fox" license issue --email bench@fox.example --tier desk --days 30 2>/dev/null)
  id=$(sed -n 's/^license_id: //p' <<<"$issued")
  key=$(sed -n 's/^key: //p' <<<"$issued")
  export FOX_LICENSE_DIR=$dir/fox-license FOX_LICENSE_PUBLIC_KEY=$public FOX_LICENSE_KEY=$key
  fp=$("$engine" license fingerprint 2>/dev/null | tail -1)
  FOX__DATABASE__NAME=$db FOX__LICENSE__SIGNING_KEY=$signing FOX__LOG__LEVEL=warn \
    "$fox" license offline-activation "$id" --fingerprint "$fp" --name bench >"$dir/activation.txt"
  "$engine" --log-level warn license install "$dir/activation.txt" >/dev/null
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" postgres >/dev/null 2>&1 || true
  "$engine" license status
}
