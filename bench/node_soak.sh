#!/usr/bin/env bash
# The DICOM node under load (README, "Running as a DICOM node"): `unipet serve` with the default
# model between dcmtk's storescu (several senders, random intervals) and storescp (the receiver),
# all on loopback. Reports series per hour, the time from a series' last received instance to its
# derived series confirmed by the receiver, the node's memory over the run, and whether every
# series arrived exactly once. Not part of the test suite (it takes MINUTES).
# Usage: bench/node_soak.sh [WORK_DIR] [MINUTES]   (default /tmp/unipet-soak, 10)
# Environment: UNIPET (the binary), SERIES (20), SENDERS (4), MATRIX (128), SLICES (64),
# QUIET (5: --quiet-seconds), THREADS (2).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
unipet=${UNIPET:-$repo/build/unipet}
work=${1:-/tmp/unipet-soak}
minutes=${2:-10}
series=${SERIES:-20} senders=${SENDERS:-4} matrix=${MATRIX:-128} slices=${SLICES:-64}
quiet=${QUIET:-5} threads=${THREADS:-2}
for tool in storescu storescp dcmdump python3; do
  command -v "$tool" >/dev/null || { echo "node_soak.sh: $tool is missing (Debian: dcmtk, python3)" >&2; exit 1; }
done
rm -rf "$work" && mkdir -p "$work" && cd "$work"

# One simulated DRF-4 study, converted into SERIES DICOM series (each conversion draws new UIDs).
"$unipet" simulate --out sim --subjects 1 --drf 4 --matrix "$matrix" --slices "$slices" --seed 7 \
  --split 1,0,0 --threads "$threads" >/dev/null
# The series are in SUV (the dataset's suv_per_bqml): a standalone DICOM written from a NIfTI has
# no weight or dose tags to compute SUV from Bq/ml.
factor=$(python3 -c 'import json; print(json.load(open("sim/dataset.json"))["subjects"][0]["info"]["suv_per_bqml"])')
mkdir -p series
for i in $(seq 1 "$series"); do
  "$unipet" convert sim/sim0000/drf_4.nii.gz "series/s$i" --to suv --suv-factor "$factor" >/dev/null
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rx_port=$(free_port)
node_port=$(free_port)
mkdir -p rx
storescp -aet PACS -od rx "$rx_port" > storescp.log 2>&1 &
rx_pid=$!
"$unipet" serve --aet UNIPET --port "$node_port" --forward "PACS@127.0.0.1:$rx_port" --work node \
  --quiet-seconds "$quiet" --threads "$threads" > node.log 2> node.err &
node_pid=$!
trap 'kill $node_pid $rx_pid 2>/dev/null || true' EXIT
sleep 2

# The node's resident memory every 5 s, until it stops.
(while kill -0 "$node_pid" 2>/dev/null; do
   echo "$(date +%s) $(awk '/VmRSS/ {print $2}' "/proc/$node_pid/status" 2>/dev/null || echo 0)"
   sleep 5
 done) > rss.txt &

# SENDERS processes share the series; each waits a random time (mean: the run spread evenly) before
# each send, so series overlap and arrive while others are denoised.
start=$(date +%s)
mean_gap=$(( minutes * 60 * senders / series ))
for s in $(seq 0 $((senders - 1))); do
  (RANDOM=$((s + 1))
   for i in $(seq $((s + 1)) "$senders" "$series"); do
     sleep $(( RANDOM % (2 * mean_gap + 1) ))
     storescu -aet SCANNER -aec UNIPET 127.0.0.1 "$node_port" "series/s$i"/*.dcm >> "sender$s.log" 2>&1 ||
       echo "series s$i: storescu failed" >> "sender$s.log"
   done) &
done
wait_senders=$(jobs -p | tail -n "$senders")
for p in $wait_senders; do wait "$p"; done
sent_all=$(date +%s)

# Wait for the queue to drain (at most MINUTES more).
deadline=$((sent_all + minutes * 60))
while [ "$(date +%s)" -lt "$deadline" ]; do
  sent=$("$unipet" serve --status node --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["counts"]["sent"])')
  [ "$sent" -ge "$series" ] && break
  sleep 5
done
end=$(date +%s)
kill "$node_pid" 2>/dev/null || true
wait "$node_pid" 2>/dev/null || true

python3 - "$series" "$start" "$end" "$matrix" "$slices" "$threads" <<'EOF'
import json, os, statistics, subprocess, sys
series, start, end, matrix, slices, threads = (int(a) for a in sys.argv[1:])
events = [json.loads(l) for l in open("node.log") if l.startswith("{")]
sent = [e for e in events if e["event"] == "series_sent"]
denoised = [e["seconds"] for e in events if e["event"] == "denoised"]
latency = sorted(e["seconds_after_last_instance"] for e in sent)
rss = [int(l.split()[1]) for l in open("rss.txt") if l.split()[1] != "0"]
# The receiver: SOP instance UIDs (each once) and series (each once) of what arrived.
uids, series_uids = [], set()
for f in sorted(os.listdir("rx")):
    out = subprocess.run(["dcmdump", "+P", "0008,0018", "+P", "0020,000e", os.path.join("rx", f)],
                         capture_output=True, text=True).stdout.splitlines()
    uids.append(out[0].split("[")[1].split("]")[0])
    series_uids.add(out[1].split("[")[1].split("]")[0])
hours = (end - start) / 3600
print(f"series: {len(sent)} of {series} sent, {len(series_uids)} derived series at the receiver, "
      f"{len(uids)} instances ({len(set(uids))} distinct)")
print(f"volume {matrix} x {matrix} x {slices}, {threads} threads; denoise per series: median "
      f"{statistics.median(denoised):.1f} s")
print(f"throughput: {len(sent) / hours:.1f} series per hour over the run; "
      f"{3600 / statistics.median(denoised):.0f} per hour of denoising")
print(f"last instance -> derived series confirmed: median {statistics.median(latency):.1f} s, "
      f"max {latency[-1]:.1f} s")
third = max(1, len(rss) // 3)
print(f"node RSS: first third max {max(rss[:third]) / 1024:.0f} MB, last third max {max(rss[-third:]) / 1024:.0f} MB, "
      f"overall max {max(rss) / 1024:.0f} MB")
lost = series - len(sent)
dup = len(uids) - len(set(uids))
print("PASS" if lost == 0 and dup == 0 and len(series_uids) == series else f"FAIL: {lost} lost, {dup} duplicated")
EOF
