# Helpers for the executor's integration tests (source after tests/lib.sh and tests/hubd/hub.sh):
# the environment hfsync reads, manifests, and reading a repo back byte for byte.

# exec_env: point hfsync at the hub started by hub_start, with its write token.
exec_env() {
    export HF_ENDPOINT=$HUB_URL HF_TOKEN=$TOKEN HF_HOME=$TEST_TMP/hf-home
    unset HF_HUB_DISABLE_IMPLICIT_TOKEN HUGGING_FACE_HUB_TOKEN
}

# local_listing DIR [PREFIX]: "path<TAB>sha256<TAB>size" of every file under DIR, sorted
# bytewise (as the JS read-back prints it), paths prefixed with PREFIX/.
local_listing() {
    python3 - "$1" "${2:-}" <<'PY'
import hashlib, os, sys
root, prefix = sys.argv[1], sys.argv[2]
rows = []
for d, dirs, files in os.walk(root):
    dirs[:] = [x for x in dirs if x not in (".git", ".hfsync")]
    for f in files:
        p = os.path.join(d, f)
        rel = os.path.relpath(p, root)
        data = open(p, "rb").read()
        rows.append(((prefix + "/" if prefix else "") + rel, hashlib.sha256(data).hexdigest(), len(data)))
rows.sort(key=lambda r: r[0].encode())
for r in rows:
    print("%s\t%s\t%d" % r)
PY
}

# js_listing REPO [REV]: the repo's files as the official JS client reads them.
js_listing() {
    HUB_URL=$HUB_URL HF_TOKEN=$TOKEN REPO=$1 REV=${2:-main} node "$SRCDIR/tests/executor/readback.mjs" \
        | grep -v -e '^\.gitattributes	'
}

# resolve_check DIR REPO_PREFIX [PATH_PREFIX]: downloads every file of DIR through
# /resolve/main/<quoted path> with curl and compares the bytes; prints the mismatches.
resolve_check() {
    local dir=$1 repo=$2 prefix=${3:-} rel url
    while IFS= read -r -d '' f; do
        rel=${f#"$dir"/}
        url="$HUB_URL/$repo/resolve/main/$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "${prefix:+$prefix/}$rel")"
        curl -sfL -H "Authorization: Bearer $TOKEN" "$url" -o "$TEST_TMP/resolved" || { echo "missing: $rel"; continue; }
        cmp -s "$TEST_TMP/resolved" "$f" || echo "differs: $rel"
    done < <(find "$dir" -type f -not -path '*/.hfsync/*' -print0)
}

# commit_count REPO_API (e.g. models/user/x) [REV]: how many commits the revision has.
commit_count() {
    curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/$1/commits/${2:-main}" |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}

# head_of REPO_API [REV]: the revision's head commit.
head_of() {
    curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/$1/revision/${2:-main}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin).get("sha",""))'
}

# log_settle [SECONDS]: the hub logs a request once its answer is sent, so the last line may
# still be on its way when the client has exited: wait until the log has not grown for
# SECONDS (default 0.1; at most 20 times that).
log_settle() {
    local size prev=-1 i
    for i in $(seq 1 20); do
        size=$(stat -c %s "$TEST_TMP/access.log" 2>/dev/null || echo 0)
        [ "$size" = "$prev" ] && return 0
        prev=$size
        sleep "${1:-0.1}"
    done
}
# log_mark: remembers how long the access log is; log_since prints what came after. Both
# settle first: a request the test itself just made (commit_count, say) is counted before
# the mark, never after it.
log_mark() { log_settle; LOG_MARK=$(wc -l <"$TEST_TMP/access.log"); }
log_since() { log_settle; tail -n +"$((LOG_MARK + 1))" "$TEST_TMP/access.log"; }

have_node() { command -v node >/dev/null && [ -f "$SRCDIR/tests/node/node_modules/@huggingface/hub/dist/index.mjs" ]; }
