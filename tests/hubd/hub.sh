# Helpers for the local hub's HTTP tests (source after tests/lib.sh): start and stop a hub
# on 127.0.0.1 with a port file, send requests with curl, read JSON answers with python3.
TOKEN=hf_testtoken0123456789
HUB_ROOT=${HUB_ROOT:-$TEST_TMP/hub}
HUB_PID=
HUB_URL=

# hub_start [extra serve args...]: starts a hub on a free port; sets HUB_URL and HUB_PID.
hub_start() {
    rm -f "$TEST_TMP/port"
    "$HFSYNC" hub serve --root "$HUB_ROOT" --listen 127.0.0.1:0 --port-file "$TEST_TMP/port" \
        --token "$TOKEN" --access-log "$TEST_TMP/access.log" "$@" \
        >"$TEST_TMP/hub.out" 2>>"$TEST_TMP/hub.err" &
    HUB_PID=$!
    _hub_pids+=("$HUB_PID")
    for _ in $(seq 1 200); do
        [ -s "$TEST_TMP/port" ] && break
        kill -0 "$HUB_PID" 2>/dev/null || break
        sleep 0.05
    done
    if [ ! -s "$TEST_TMP/port" ]; then
        diag "the hub did not start:" "$(cat "$TEST_TMP/hub.err")"
        return 1
    fi
    HUB_URL="http://127.0.0.1:$(cat "$TEST_TMP/port")"
}

# hub_temps: how many upload temp files the hub's LFS store holds (they sit beside the
# objects, or among a multipart upload's parts, named .upload-*).
hub_temps() {
    find "$HUB_ROOT/lfs" -name '.upload-*' 2>/dev/null | wc -l
}

# hub_stop: SIGTERM, then checks it exited 0 with no sanitizer report (leaks show up here).
hub_stop() {
    kill -TERM "$HUB_PID" 2>/dev/null
    wait "$HUB_PID"
    local rc=$?
    local err
    err=$(grep -E "Sanitizer|runtime error" "$TEST_TMP/hub.err" | head -5)
    if [ "$rc" -eq 0 ] && [ -z "$err" ]; then ok 0 "hub stops cleanly on SIGTERM"; else
        ok 1 "hub stops cleanly on SIGTERM"; diag "exit $rc" "$(tail -40 "$TEST_TMP/hub.err")"; fi
    HUB_PID=
}

# req METHOD PATH [curl args...]: STATUS gets the status, BODY the body, HEADERS the file of
# response headers. PATH is appended to HUB_URL unless it is a full URL.
req() {
    local method=$1 path=$2
    shift 2
    case "$path" in http*) ;; *) path="$HUB_URL$path" ;; esac
    STATUS=$(curl -s -X "$method" -o "$TEST_TMP/body" -D "$TEST_TMP/headers" -w '%{http_code}' \
        "$@" "$path")
    BODY=$(cat "$TEST_TMP/body")
    HEADERS="$TEST_TMP/headers"
}
# areq: req with the write token.
areq() { local m=$1 p=$2; shift 2; req "$m" "$p" -H "Authorization: Bearer $TOKEN" "$@"; }

# hdr NAME: a header of the last response (case-insensitive), without the CR.
hdr() { grep -i "^$1:" "$HEADERS" | tail -1 | sed -e 's/^[^:]*: *//' -e 's/\r$//'; }

# jq_ EXPR: evaluates a Python expression on the last JSON body, bound to `j`.
jq_() { printf '%s' "$BODY" | python3 -c "import json,sys; j=json.load(sys.stdin); v=($1); print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)" 2>&1; }

# commit_ndjson REPO_PATH [curl args] < lines: POSTs an NDJSON commit body from stdin. Not at
# the end of a pipe (that runs in a subshell and loses STATUS): there write `... | nd;
# commit_post PATH`.
commit_ndjson() {
    nd
    commit_post "$@"
}
nd() { cat >"$TEST_TMP/commit.ndjson"; }
commit_post() {
    local path=$1
    shift
    areq POST "$path" -H 'Content-Type: application/x-ndjson' --data-binary @"$TEST_TMP/commit.ndjson" "$@"
}

# tamper URL: the URL with the last hex digit of its signature changed.
tamper() { case "$1" in *0) printf '%s1' "${1%?}" ;; *) printf '%s0' "${1%?}" ;; esac; }

# b64 TEXT: base64 without line breaks.
b64() { printf '%s' "$1" | base64 -w0; }

# sha256_of FILE
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# expect_status WANT NAME: checks the last status.
expect_status() {
    if [ "$STATUS" = "$1" ]; then ok 0 "$2"; else ok 1 "$2"; diag "status $STATUS, want $1" "body: ${BODY:0:400}"; fi
}

# create_repo ID [json extras]: creates a model repo ns/name with the write token.
create_repo() {
    local ns=${1%%/*} name=${1#*/}
    areq POST /api/repos/create -H 'Content-Type: application/json' \
        -d "{\"name\":\"$name\",\"organization\":\"$ns\"${2:+,$2}}"
}

# lfs_upload REPO_URL_PREFIX FILE: batch + basic PUT of FILE; prints nothing, sets STATUS.
lfs_upload() {
    local prefix=$1 file=$2 oid size
    oid=$(sha256_of "$file")
    size=$(stat -c %s "$file")
    areq POST "$prefix.git/info/lfs/objects/batch" -H 'Content-Type: application/vnd.git-lfs+json' \
        -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"hash_algo\":\"sha256\",\"objects\":[{\"oid\":\"$oid\",\"size\":$size}]}"
    local href
    href=$(jq_ 'j["objects"][0].get("actions",{}).get("upload",{}).get("href","")')
    [ -n "$href" ] && req PUT "$href" -T "$file"
}
