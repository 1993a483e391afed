# A hostile hub (tests/hostile/evilhub.py on 127.0.0.1): tree listings that climb out of the
# repo, endless and trickling bodies and headers, a redirect to another host, and TLS with a
# certificate nobody vouches for. hfsync must refuse each with a message naming what and
# where, in bounded memory and time, write nothing outside its folders, and send the token
# nowhere but the endpoint.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"
. "$SRCDIR/tests/hostile/hostile.sh"

export HF_TOKEN=hf_evilhubtoken0123456789 HF_HOME=$TEST_TMP/hf-home
unset HF_HUB_DISABLE_IMPLICIT_TOKEN HUGGING_FACE_HUB_TOKEN
W=$TEST_TMP/work
mkdir -p "$W/data"
printf 'hello\n' >"$W/data/hello.txt"
cat >"$W/hfsync.yaml" <<'YAML'
version: 1
syncs:
  s:
    repo_id: user/evil
    folder_path: ./data
    delete_patterns: ["*"]
YAML
cd "$W" || exit 1
LOCAL=$(tree_digest "$W/data")
# plan_against MODE [env...]: plans against the evil hub in MODE; RC, ERR, SECONDS_TAKEN and
# PEAK_KB (max RSS) describe the run.
plan_against() {
    local mode=$1
    shift
    evil_start "$mode"
    touch "$TEST_TMP/stamp"
    local t0=$SECONDS
    env HF_ENDPOINT="$EVIL_URL" "$@" /usr/bin/time -f '%M' -o "$TEST_TMP/rss" \
        timeout 120 "$HFSYNC" plan >out 2>err
    RC=$?
    SECONDS_TAKEN=$((SECONDS - t0))
    PEAK_KB=$(tail -1 "$TEST_TMP/rss")
    ERR=$(cat err)
    evil_stop
}
# written_outside: files changed since the stamp anywhere under the test folder but the work
# folder and the evil hub's own files.
written_outside() {
    find "$TEST_TMP" -newer "$TEST_TMP/stamp" -type f -not -path "$W/*" -not -name 'evil*' \
        -not -name rss -print
}

# ---- tree listings that climb out of the repo
plan_against traversal
expect_eq "$RC" 1 "a listing with ../../etc/passwd: exit 1"
expect_contains "$ERR" "entry 1 has the path \"../../etc/passwd\", which is not a path inside the repo" "... naming the entry"
expect_contains "$ERR" "GET $EVIL_URL/api/models/user/evil/tree/" "... and the request"
expect_eq "$(written_outside)" "" "... nothing written outside the work folder"
evil_start traversal
HF_ENDPOINT=$EVIL_URL "$HFSYNC" apply -f hfsync.yaml --yes >out 2>err
expect_eq "$?" 1 "apply -f against it: exit 1"
expect_eq "$(grep -c -v '^GET ' "$EVIL_LOG")" 0 "... and it sent nothing but GETs (no preupload, no commit)"
evil_stop
expect_eq "$(tree_digest "$W/data")" "$LOCAL" "the local folder is untouched"

# ---- endless and trickling answers: bounded memory, bounded time, no retry of a hub that
# answers like that
plan_against huge-body
expect_eq "$RC" 1 "an endless tree listing: exit 1"
expect_contains "$ERR" "the answer of GET $EVIL_URL/api/models/user/evil/tree/" "... naming the request"
expect_contains "$ERR" "is larger than 67108864 bytes" "... and the 64 MiB cap"
[ "$PEAK_KB" -lt 400000 ]
ok $? "... in bounded memory (peak RSS $((PEAK_KB / 1024)) MB)"
plan_against huge-headers
expect_eq "$RC" 1 "endless response headers: exit 1"
expect_contains "$ERR" "the answer of GET $EVIL_URL/api/models/user/evil/revision/main?expand=sha has more than 262144 bytes of headers" "... naming the request and the cap"
expect_eq "$(wc -l <"$EVIL_LOG")" 1 "... sent once, not retried"
[ "$PEAK_KB" -lt 200000 ]
ok $? "... in bounded memory (peak RSS $((PEAK_KB / 1024)) MB)"
plan_against slow-body HFSYNC_STALL_TIMEOUT=2
expect_eq "$RC" 1 "a tree listing trickling in a byte at a time: exit 1"
expect_contains "$ERR" "the answer of GET $EVIL_URL/api/models/user/evil/tree/" "... naming the request"
expect_contains "$ERR" "trickles in" "... saying it trickles in"
[ "$SECONDS_TAKEN" -le 10 ]
ok $? "... given up after the 2 s stall timeout (took ${SECONDS_TAKEN} s)"
plan_against slow-headers HFSYNC_STALL_TIMEOUT=2
expect_eq "$RC" 1 "headers trickling in a byte at a time: exit 1"
expect_contains "$ERR" "the answer of GET $EVIL_URL/api/models/user/evil/revision/main?expand=sha trickles in" "... naming the request"
[ "$SECONDS_TAKEN" -le 10 ]
ok $? "... given up after the 2 s stall timeout (took ${SECONDS_TAKEN} s)"
plan_against slow-headers HFSYNC_STALL_TIMEOUT=soon
expect_contains "$ERR" "HFSYNC_STALL_TIMEOUT=\"soon\" is not a number of seconds" "a bad HFSYNC_STALL_TIMEOUT is named"

# ---- a redirect to another host: 127.0.0.1 and localhost are different origins
plan_against redirect
expect_eq "$RC" 0 "a hub redirecting to localhost: the plan follows it"
expect_eq "$(grep -c 'host=localhost' "$EVIL_LOG") $(grep -c 'host=localhost.* auth=yes' "$EVIL_LOG")" "2 0" \
    "... and sends no Authorization to the other host"
expect_eq "$(grep -c 'host=127.0.0.1.* auth=yes' "$EVIL_LOG")" 2 "... while the endpoint itself got the token"
evil_start redirect
HF_ENDPOINT=$EVIL_URL "$HFSYNC" apply -f hfsync.yaml --yes --verbose >out 2>err
expect_contains "$(cat err)" "redirected (HTTP 307) to http://localhost:" "--verbose shows the redirect"
if grep -q "$HF_TOKEN" out err; then ok 1 "... and never the token"; else ok 0 "... and never the token"; fi
evil_stop

# ... and over git: libgit2 follows an off-site redirect of git's first request unless told
# not to, and would answer the other host's 401 with the token.
cat >"$W/git.yaml" <<'YAML'
version: 1
syncs:
  g:
    repo_id: user/evil
    folder_path: ./data
    transport: git
YAML
evil_start git-redirect
HF_ENDPOINT=$EVIL_URL "$HFSYNC" apply -f git.yaml --yes >out 2>err
expect_eq "$?" 1 "git's info/refs redirected to localhost: exit 1"
expect_contains "$(cat err)" "over git: cannot redirect from '127.0.0.1' to 'localhost'" "... refusing the redirect"
expect_eq "$(grep -c 'host=localhost' "$EVIL_LOG")" 0 "... so localhost never gets to ask for the token"
evil_stop

# ---- TLS. libcurl reads no CA variable itself; hfsync reads CURL_CA_BUNDLE,
# REQUESTS_CA_BUNDLE and SSL_CERT_FILE (a file) and SSL_CERT_DIR (a folder), as the Python
# clients do.
unset CURL_CA_BUNDLE REQUESTS_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TEST_TMP/key.pem" -out "$TEST_TMP/cert.pem" \
    -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TEST_TMP/key2.pem" -out "$TEST_TMP/other.pem" \
    -days 2 -subj /CN=hub.example -addext subjectAltName=DNS:hub.example 2>/dev/null
ok $? "self-signed certificates made with openssl req"
evil_start ok --tls "$TEST_TMP/cert.pem" "$TEST_TMP/key.pem"
HF_ENDPOINT=$EVIL_URL "$HFSYNC" plan >out 2>err
expect_eq "$?" 1 "a self-signed certificate: exit 1"
expect_contains "$(cat err)" "the TLS certificate of the server could not be verified (SSL certificate problem: self-signed certificate)" "... a clear TLS error"
expect_contains "$(cat err)" "GET $EVIL_URL/api/models/user/evil/revision/main?expand=sha" "... naming the request"
expect_eq "$(wc -l <"$EVIL_LOG")" 0 "... and no request (with the token) was sent"
HF_ENDPOINT=$EVIL_URL CURL_CA_BUNDLE=$TEST_TMP/cert.pem "$HFSYNC" plan >out 2>err
expect_eq "$?" 0 "CURL_CA_BUNDLE naming the certificate: the plan works"
HF_ENDPOINT=$EVIL_URL SSL_CERT_FILE=$TEST_TMP/cert.pem "$HFSYNC" plan >out 2>err
expect_eq "$?" 0 "SSL_CERT_FILE naming it: the plan works"
HF_ENDPOINT=$EVIL_URL REQUESTS_CA_BUNDLE=$TEST_TMP/cert.pem "$HFSYNC" plan >out 2>err
expect_eq "$?" 0 "REQUESTS_CA_BUNDLE naming it: the plan works"
HF_ENDPOINT=$EVIL_URL SSL_CERT_FILE=$TEST_TMP/nope.pem "$HFSYNC" plan >out 2>err
expect_eq "$?" 1 "SSL_CERT_FILE naming a missing file: exit 1"
expect_contains "$(cat err)" "SSL_CERT_FILE names $TEST_TMP/nope.pem, which cannot be read" "... saying so"
evil_stop
evil_start ok --tls "$TEST_TMP/other.pem" "$TEST_TMP/key2.pem"
HF_ENDPOINT=$EVIL_URL CURL_CA_BUNDLE=$TEST_TMP/other.pem "$HFSYNC" plan >out 2>err
expect_eq "$?" 1 "a trusted certificate for another host name: exit 1"
expect_contains "$(cat err)" "the TLS certificate of the server could not be verified" "... a clear TLS error"
expect_eq "$(wc -l <"$EVIL_LOG")" 0 "... and no request was sent"
evil_stop

done_testing
