#!/usr/bin/env bash
# The README's first command: installs what hfsync needs, builds it, starts the bundled local hub
# and runs the main job on a copy of examples/quickstart — plan, apply, look, plan again.
# No account and no network are needed (beyond Debian's packages for the install step).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
HFSYNC=$PWD/build/hfsync

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hfsync-quickstart.XXXXXX")
HUB_PID=
cleanup() {
    [ -n "$HUB_PID" ] && kill "$HUB_PID" 2>/dev/null && wait "$HUB_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
cp -r examples/quickstart "$WORK/quickstart"

TOKEN=hf_quickstart$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
"$HFSYNC" hub serve --root "$WORK/hub" --listen 127.0.0.1:0 --port-file "$WORK/port" \
    --token "$TOKEN" --access-log "$WORK/access.log" 2>"$WORK/hub.err" &
HUB_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
[ -s "$WORK/port" ] || { cat "$WORK/hub.err" >&2; exit 1; }
export HF_ENDPOINT="http://127.0.0.1:$(cat "$WORK/port")" HF_TOKEN=$TOKEN HF_HOME=$WORK/hf-home
echo "== a local hub is running at $HF_ENDPOINT"

cd "$WORK/quickstart"
echo "== hfsync validate"
"$HFSYNC" validate
echo "== hfsync plan -o plan.json"
"$HFSYNC" plan -o plan.json
echo "== hfsync apply plan.json"
"$HFSYNC" apply plan.json
echo "== what the hub holds now"
curl -s -H "Authorization: Bearer $TOKEN" \
    "$HF_ENDPOINT/api/models/demo/quickstart-model/tree/main?recursive=true" |
    python3 -c 'import json,sys; [print(" ", e["path"], e.get("size", "")) for e in json.load(sys.stdin) if e["type"] == "file"]'
echo "== hfsync plan (again)"
"$HFSYNC" plan
