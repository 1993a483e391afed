# Interop: the official JS client (@huggingface/hub, pinned in tests/node) against a fresh local
# hub, once with useXet: false and once with its default (xet offered), then curl reads back.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"

NODE_HUB="$SRCDIR/tests/node/node_modules/@huggingface/hub/dist/index.mjs"
if ! command -v node >/dev/null || [ ! -f "$NODE_HUB" ]; then
    skip "node or tests/node/node_modules is missing (run npm ci in tests/node)"
    done_testing
    exit 0
fi

# 13 MB: the 12 MiB (12,582,912 bytes) file takes the basic transfer, the 16 MiB one multipart.
hub_start --multipart-threshold 13MB || { ok 1 "the hub starts"; done_testing; exit 1; }
READ_TOKEN=$("$HFSYNC" hub token create reader --role read --root "$HUB_ROOT")

# run_driver MODE: runs js-client.mjs and turns its "ok - …" lines into this script's TAP.
run_driver() {
    local mode=$1 out="$TEST_TMP/js-$mode"
    mkdir -p "$out"
    HUB_URL=$HUB_URL HF_TOKEN=$TOKEN HF_READ_TOKEN=$READ_TOKEN MODE=$mode OUT_DIR=$out \
        node "$SRCDIR/tests/interop/js-client.mjs" >"$out/tap" 2>&1
    local rc=$?
    local line
    while IFS= read -r line; do
        case "$line" in
            "ok - "*) ok 0 "[$mode] ${line#ok - }" ;;
            "not ok - "*) ok 1 "[$mode] ${line#not ok - }" ;;
            "#"*) echo "$line" ;;
            *) diag "$line" ;;
        esac
    done <"$out/tap"
    ok "$rc" "[$mode] the JS driver ran to its end"
}

# curl_check MODE: what the JS client uploaded, read back with plain curl through resolve.
curl_check() {
    local mode=$1 rev path sha size qrev qpath got n=0 bad=0
    while IFS=$'\t' read -r rev path sha size; do
        n=$((n + 1))
        qrev=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$rev")
        qpath=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$path")
        got=$(curl -sfL -H "Authorization: Bearer $TOKEN" \
            "$HUB_URL/user/js-$mode/resolve/$qrev/$qpath" | sha256sum | cut -d' ' -f1)
        if [ "$got" != "$sha" ]; then
            bad=$((bad + 1))
            diag "resolve/$qrev/$qpath: sha256 $got, want $sha ($size bytes)"
        fi
    done <"$TEST_TMP/js-$mode/expect.tsv"
    ok $((bad != 0 || n < 5)) "[$mode] curl GET resolve returns the bytes the JS client uploaded ($n files)"
    req HEAD "/user/js-$mode/resolve/main/weights/big.dat" -H "Authorization: Bearer $TOKEN"
    expect_eq "$(hdr X-Linked-Size)" $((12 * 1024 * 1024)) "[$mode] curl HEAD of the 12 MiB LFS file: X-Linked-Size"
    local big
    big=$(awk -F'\t' '$2 == "weights/big.dat" { print $3 }' "$TEST_TMP/js-$mode/expect.tsv")
    expect_eq "$(hdr X-Linked-Etag)" "\"$big\"" "[$mode] ... and X-Linked-Etag is the sha256"
}

for mode in noxet xet; do
    run_driver "$mode"
    if [ -s "$TEST_TMP/js-$mode/expect.tsv" ]; then
        curl_check "$mode"
    else
        ok 1 "[$mode] the JS driver wrote the list of uploaded files for the curl check"
    fi
done

hub_stop
done_testing
