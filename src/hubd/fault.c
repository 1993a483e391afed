/* Deterministic fault injection for the local hub: rules parsed from --fault specs, matched
 * against per-endpoint request counters, so a test knows exactly which request fails; and
 * the per-request disk budget that makes a store write meet a full disk. */
#include "hubd/fault.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"

typedef struct {
    hubd_endpoint ep;
    hubd_fault_action action;
    uint64_t nth;   /* 1-based request count at which the rule first fires */
    uint64_t times; /* how many consecutive requests it affects; 0 = every one from nth on */
} fault_rule;

struct hubd_faults {
    pthread_mutex_t lock;
    fault_rule *rules;
    size_t n_rules, cap_rules;
    uint64_t counts[HUBD_EP_COUNT];
};

static const struct {
    const char *name;
    hubd_endpoint ep;
} endpoint_names[] = {
    {"any", HUBD_EP_ANY},
    {"whoami", HUBD_EP_WHOAMI},
    {"create", HUBD_EP_REPO_CREATE},
    {"info", HUBD_EP_REPO_INFO},
    {"tree", HUBD_EP_TREE},
    {"paths-info", HUBD_EP_PATHS_INFO},
    {"preupload", HUBD_EP_PREUPLOAD},
    {"lfs-batch", HUBD_EP_LFS_BATCH},
    {"lfs-put", HUBD_EP_LFS_PUT},
    {"lfs-part", HUBD_EP_LFS_PART},
    {"lfs-complete", HUBD_EP_LFS_COMPLETE},
    {"lfs-verify", HUBD_EP_LFS_VERIFY},
    {"commit", HUBD_EP_COMMIT},
    {"resolve", HUBD_EP_RESOLVE},
    {"discussions", HUBD_EP_DISCUSSIONS},
    {"git", HUBD_EP_GIT},
    {"other", HUBD_EP_OTHER},
};

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!*s || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

/* One "ENDPOINT:key=value,..." rule. `spec` is modified in place. */
static int parse_rule(fault_rule *out, char *spec, const char *whole)
{
    memset(out, 0, sizeof(*out));
    out->nth = 1;
    out->times = 1;
    char *colon = strchr(spec, ':');
    if (!colon)
        return hfs_error_set(HFS_EINVALID,
                             "fault '%s': expected ENDPOINT:ACTION=VALUE[,nth=N][,times=K], "
                             "e.g. 'commit:status=500,nth=2'",
                             whole);
    *colon = '\0';
    bool found = false;
    for (size_t i = 0; i < HFS_ARRAY_LEN(endpoint_names); i++)
        if (strcmp(endpoint_names[i].name, spec) == 0) {
            out->ep = endpoint_names[i].ep;
            found = true;
        }
    if (!found)
        return hfs_error_set(HFS_EINVALID,
                             "fault '%s': unknown endpoint '%s' (one of any, whoami, create, "
                             "info, tree, paths-info, preupload, lfs-batch, lfs-put, lfs-part, "
                             "lfs-complete, lfs-verify, commit, resolve, discussions, git, other)",
                             whole, spec);
    char *save = NULL;
    for (char *kv = strtok_r(colon + 1, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        uint64_t v;
        if (!eq || !parse_u64(eq + 1, UINT64_MAX / 2, &v))
            return hfs_error_set(HFS_EINVALID,
                                 "fault '%s': '%s' is not KEY=NUMBER (keys: status, drop, "
                                 "land_then_status, delay, enospc, nth, times, retry_after)",
                                 whole, kv);
        *eq = '\0';
        hubd_fault_kind kind = HUBD_FAULT_NONE;
        if (strcmp(kv, "status") == 0)
            kind = HUBD_FAULT_STATUS;
        else if (strcmp(kv, "land_then_status") == 0)
            kind = HUBD_FAULT_LAND_THEN_STATUS;
        else if (strcmp(kv, "drop") == 0)
            kind = HUBD_FAULT_DROP;
        else if (strcmp(kv, "delay") == 0)
            kind = HUBD_FAULT_DELAY;
        else if (strcmp(kv, "enospc") == 0)
            kind = HUBD_FAULT_ENOSPC;
        if (kind != HUBD_FAULT_NONE) {
            if (out->action.kind != HUBD_FAULT_NONE)
                return hfs_error_set(HFS_EINVALID,
                                     "fault '%s': give one of status, drop, land_then_status, "
                                     "delay or enospc per rule (separate rules with ';')",
                                     whole);
            out->action.kind = kind;
            if ((kind == HUBD_FAULT_STATUS || kind == HUBD_FAULT_LAND_THEN_STATUS) &&
                (v < 100 || v > 599))
                return hfs_error_set(HFS_EINVALID, "fault '%s': status %llu is not an HTTP "
                                                   "status (100-599)",
                                     whole, (unsigned long long)v);
            if (kind == HUBD_FAULT_DELAY && v > 600000)
                return hfs_error_set(HFS_EINVALID, "fault '%s': delay is in milliseconds, at "
                                                   "most 600000",
                                     whole);
            if (kind == HUBD_FAULT_STATUS || kind == HUBD_FAULT_LAND_THEN_STATUS)
                out->action.status = (int)v;
            else if (kind == HUBD_FAULT_DROP || kind == HUBD_FAULT_ENOSPC)
                out->action.bytes = v;
            else
                out->action.delay_ms = (unsigned)v;
        } else if (strcmp(kv, "nth") == 0) {
            if (v == 0)
                return hfs_error_set(HFS_EINVALID, "fault '%s': nth counts from 1", whole);
            out->nth = v;
        } else if (strcmp(kv, "times") == 0) {
            out->times = v;
        } else if (strcmp(kv, "retry_after") == 0) {
            if (v > 86400)
                return hfs_error_set(HFS_EINVALID, "fault '%s': retry_after is at most 86400 "
                                                   "seconds",
                                     whole);
            out->action.retry_after = (int)v;
        } else {
            return hfs_error_set(HFS_EINVALID,
                                 "fault '%s': unknown key '%s' (keys: status, drop, "
                                 "land_then_status, delay, enospc, nth, times, retry_after)",
                                 whole, kv);
        }
    }
    if (out->action.kind == HUBD_FAULT_NONE)
        return hfs_error_set(HFS_EINVALID,
                             "fault '%s': says when but not what: add status=CODE, drop=BYTES, "
                             "land_then_status=CODE, delay=MS or enospc=BYTES",
                             whole);
    if (out->action.retry_after && out->action.kind != HUBD_FAULT_STATUS)
        return hfs_error_set(HFS_EINVALID, "fault '%s': retry_after goes with status=CODE",
                             whole);
    if (out->action.kind == HUBD_FAULT_LAND_THEN_STATUS && out->ep != HUBD_EP_COMMIT &&
        out->ep != HUBD_EP_REPO_CREATE && out->ep != HUBD_EP_LFS_PUT &&
        out->ep != HUBD_EP_LFS_COMPLETE && out->ep != HUBD_EP_DISCUSSIONS &&
        out->ep != HUBD_EP_ANY)
        return hfs_error_set(HFS_EINVALID,
                             "fault '%s': land_then_status applies to commit, create, lfs-put, "
                             "lfs-complete and discussions",
                             whole);
    /* only these write data to the hub's own stores: a multipart completion links parts
     * already written, and git http-backend writes pushes */
    if (out->action.kind == HUBD_FAULT_ENOSPC && out->ep != HUBD_EP_COMMIT &&
        out->ep != HUBD_EP_LFS_PUT && out->ep != HUBD_EP_LFS_PART && out->ep != HUBD_EP_ANY)
        return hfs_error_set(HFS_EINVALID,
                             "fault '%s': enospc applies to lfs-put, lfs-part and commit (the "
                             "requests that write data to the hub's stores)",
                             whole);
    return 0;
}

int hubd_faults_parse(hubd_faults **out, const char *spec)
{
    *out = NULL;
    hubd_faults *f = hfs_calloc(1, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    int rc = 0;
    char *copy = hfs_strdup(spec ? spec : "");
    char *save = NULL;
    for (char *one = strtok_r(copy, ";", &save); one; one = strtok_r(NULL, ";", &save)) {
        while (*one == ' ')
            one++;
        if (!*one)
            continue;
        char *whole = hfs_strdup(one);
        fault_rule r;
        rc = parse_rule(&r, one, whole);
        free(whole);
        if (rc < 0)
            break;
        HFS_PUSH(f->rules, f->n_rules, f->cap_rules, r);
    }
    free(copy);
    if (rc < 0) {
        hubd_faults_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

hubd_fault_action hubd_faults_next(hubd_faults *f, hubd_endpoint ep)
{
    hubd_fault_action none = {0};
    if (!f || ep >= HUBD_EP_COUNT)
        return none;
    pthread_mutex_lock(&f->lock);
    f->counts[HUBD_EP_ANY]++;
    if (ep != HUBD_EP_ANY)
        f->counts[ep]++;
    hubd_fault_action act = none;
    for (size_t i = 0; i < f->n_rules; i++) {
        const fault_rule *r = &f->rules[i];
        if (r->ep != HUBD_EP_ANY && r->ep != ep)
            continue;
        uint64_t n = f->counts[r->ep];
        if (n >= r->nth && (r->times == 0 || n < r->nth + r->times)) {
            act = r->action;
            break;
        }
    }
    pthread_mutex_unlock(&f->lock);
    return act;
}

void hubd_faults_free(hubd_faults *f)
{
    if (!f)
        return;
    free(f->rules);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

/* The disk of the request this thread is working for, between enter and leave. */
static _Thread_local hubd_disk *current_disk;

hubd_disk hubd_disk_for(const hubd_fault_action *fault)
{
    hubd_disk d = {UINT64_MAX, false};
    if (fault && fault->kind == HUBD_FAULT_ENOSPC)
        d.left = fault->bytes;
    return d;
}

void hubd_disk_enter(hubd_disk *disk)
{
    current_disk = disk;
}

void hubd_disk_leave(void)
{
    current_disk = NULL;
}

size_t hubd_disk_take(size_t len)
{
    hubd_disk *d = current_disk;
    if (!d || d->left == UINT64_MAX)
        return len;
    if (len <= d->left) {
        d->left -= len;
        return len;
    }
    size_t took = (size_t)d->left;
    d->left = 0;
    d->full = true;
    return took;
}

void hubd_disk_note_full(void)
{
    if (current_disk)
        current_disk->full = true;
}
