/* The local hub's LFS endpoints: the batch API (basic and multipart upload actions, download
 * actions), signed PUT / part / completion URLs streaming into the store, verify, downloads. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "hubd/bodies.h"
#include "hubd/server.h"

/* S3's smallest part, and the chunk the hub hands out in huggingface_hub's recorded tests. */
#define MULTIPART_CHUNK (5ull * 1024 * 1024)
#define MULTIPART_MAX_PARTS 10000
#define LFS_JSON "application/vnd.git-lfs+json"

/* The chunk size for an object: small thresholds (tests) get small parts so several are
 * exercised; otherwise 5 MiB, grown so no object needs more than 10,000 parts. */
static uint64_t chunk_size_for(uint64_t size, uint64_t threshold)
{
    uint64_t chunk = MULTIPART_CHUNK;
    if (threshold < chunk)
        chunk = threshold < 1024 ? 1024 : threshold;
    uint64_t min = (size + MULTIPART_MAX_PARTS - 1) / MULTIPART_MAX_PARTS;
    if (chunk < min)
        chunk = (min + 1023) / 1024 * 1024;
    return chunk;
}

/* What a part URL's signature covers beside the oid and size: the part number (below
 * 100,000 < 2^17) and the chunk size. */
static uint64_t part_extra(uint64_t part, uint64_t chunk)
{
    return part | chunk << 17;
}

static char *signed_url(hubd_request *req, const char *base, const char *oid, const char *action,
                        uint64_t size, uint64_t extra, int64_t expires, const char *params)
{
    char sig[HUBD_SIG_HEX];
    hubd_sign(sig, req->srv->signer, action, oid, size, extra, expires);
    return hfs_sprintf("%s/lfs-upload/%s?%ssize=%" PRIu64 "&expires=%lld&sig=%s", base, oid,
                       params, size, (long long)expires, sig);
}

static json_t *upload_action(hubd_request *req, const hubd_repo_meta *meta, const char *base,
                             const char *oid, uint64_t size, uint64_t threshold, bool multipart,
                             int64_t expires)
{
    json_t *actions = json_object();
    if (multipart) {
        uint64_t chunk = chunk_size_for(size, threshold);
        uint64_t parts = (size + chunk - 1) / chunk;
        json_t *header = json_object();
        char text[32];
        snprintf(text, sizeof(text), "%" PRIu64, chunk);
        json_object_set_new(header, "chunk_size", json_string(text));
        for (uint64_t p = 1; p <= parts; p++) {
            char key[24], params[48];
            snprintf(key, sizeof(key), "%05" PRIu64, p);
            /* The chunk size is signed with the part: the part is written at its offset. */
            snprintf(params, sizeof(params), "part=%" PRIu64 "&chunk=%" PRIu64 "&", p, chunk);
            char *url = signed_url(req, base, oid, "part", size, part_extra(p, chunk), expires,
                                   params);
            json_object_set_new(header, key, json_string(url));
            free(url);
        }
        char params[48];
        snprintf(params, sizeof(params), "chunk=%" PRIu64 "&", chunk);
        char *complete = signed_url(req, base, oid, "complete", size, chunk, expires, params);
        json_object_set_new(actions, "upload",
                            json_pack("{s:s, s:o, s:i}", "href", complete, "header", header,
                                      "expires_in", HUBD_URL_TTL));
        free(complete);
    } else {
        char *put = signed_url(req, base, oid, "put", size, 0, expires, "");
        json_object_set_new(actions, "upload", json_pack("{s:s, s:{}, s:i}", "href", put, "header",
                                                         "expires_in", HUBD_URL_TTL));
        free(put);
    }
    char sig[HUBD_SIG_HEX];
    hubd_sign(sig, req->srv->signer, "verify", oid, size, 0, expires);
    char *verify = hfs_sprintf("%s/%s%s.git/info/lfs/objects/verify?expires=%lld&sig=%s", base,
                               hubd_kind_prefix(meta->kind), meta->id, (long long)expires, sig);
    json_object_set_new(actions, "verify", json_pack("{s:s, s:{}, s:i}", "href", verify, "header",
                                                     "expires_in", HUBD_URL_TTL));
    free(verify);
    return actions;
}

static json_t *object_error(const char *oid, json_int_t size, int code, const char *msg)
{
    return json_pack("{s:s, s:I, s:{s:i, s:s}}", "oid", oid ? oid : "", "size", size, "error",
                     "code", code, "message", msg);
}

void hubd_handle_lfs_batch(hubd_request *req)
{
    hubd_repo_meta meta;
    hubd_lfs_batch_request batch = {0};
    hubd_refusal why = {0};
    char *base = NULL;
    if (!hubd_repo_visible(req, &meta))
        return;
    if (hubd_parse_lfs_batch(&batch, &why, req->body.ptr, req->body.len) < 0) {
        hubd_respond_error(req, why.status, why.code, "%s", hfs_error_last());
        goto done;
    }
    if (batch.upload) {
        /* without a ref (create_pr) or on a PR ref, any token that sees the repo may upload */
        bool pr = !batch.ref_name || hubd_is_pr_ref(batch.ref_name, NULL);
        if (pr && !req->grant.valid) {
            hubd_respond_error(req, 401, NULL,
                               "You must be authenticated to upload LFS objects to %s: send a "
                               "token (Authorization: Bearer hf_...)",
                               meta.id);
            goto done;
        }
        char *what = hfs_sprintf("upload LFS objects to %s", meta.id);
        bool allowed = pr || hubd_can_write(req, req->route.ns, what);
        free(what);
        if (!allowed)
            goto done;
    }
    uint64_t threshold = meta.lfs_multipart_threshold ? meta.lfs_multipart_threshold
                                                      : req->srv->multipart_threshold;
    int64_t expires = (int64_t)time(NULL) + HUBD_URL_TTL;
    base = hubd_base_url(req);
    bool any_multipart = false;
    json_t *out = json_array();
    for (size_t i = 0; i < batch.n_objects; i++) {
        const hubd_lfs_batch_object *o = &batch.objects[i];
        const char *oid = o->oid;
        json_int_t size = o->size;
        if (!o->valid) {
            json_array_append_new(out, object_error(oid, size < 0 ? 0 : size, 422,
                                                    "Invalid object: oid must be 64 lowercase "
                                                    "hex digits (sha256) and size a whole "
                                                    "number"));
            continue;
        }
        uint64_t stored = 0;
        bool present = hubd_lfs_has(req->srv->lfs, oid, &stored);
        json_t *entry = json_pack("{s:s, s:I, s:b}", "oid", oid, "size", size, "authenticated", 1);
        if (!batch.upload) {
            if (!present) {
                json_decref(entry);
                json_array_append_new(out, object_error(oid, size, 404, "Object does not exist"));
                continue;
            }
            char sig[HUBD_SIG_HEX];
            hubd_sign(sig, req->srv->signer, "get", oid, 0, 0, expires);
            char *href = hfs_sprintf("%s/lfs-files/%s?expires=%lld&sig=%s", base, oid,
                                     (long long)expires, sig);
            json_object_set_new(entry, "actions",
                                json_pack("{s:{s:s, s:{}, s:i}}", "download", "href", href,
                                          "header", "expires_in", HUBD_URL_TTL));
            free(href);
        } else if (present && stored == (uint64_t)size) {
            /* already stored: no actions, the client skips it */
        } else if (present) {
            json_decref(entry);
            char msg[160];
            snprintf(msg, sizeof(msg), "Size mismatch: object %s is stored with %" PRIu64
                     " bytes, not %lld", oid, stored, (long long)size);
            json_array_append_new(out, object_error(oid, size, 422, msg));
            continue;
        } else if ((uint64_t)size > HUBD_LFS_MAX_SIZE) {
            json_decref(entry);
            json_array_append_new(out, object_error(oid, size, 422,
                                                    "Object is larger than the hub's 500 GB "
                                                    "limit for one file"));
            continue;
        } else {
            bool multipart = batch.offers_multipart && (uint64_t)size > threshold;
            if (!multipart && (uint64_t)size > HUBD_SINGLE_PUT_MAX) {
                json_decref(entry);
                json_array_append_new(out, object_error(oid, size, 422,
                                                        "Object is larger than 5 GB and the "
                                                        "client does not offer the multipart "
                                                        "transfer: run `hf lfs-enable-largefiles "
                                                        ".` in the clone and push again"));
                continue;
            }
            any_multipart |= multipart;
            json_object_set_new(entry, "actions", upload_action(req, &meta, base, oid,
                                                                (uint64_t)size, threshold,
                                                                multipart, expires));
        }
        json_array_append_new(out, entry);
    }
    hubd_respond_json_as(req, 200,
                         json_pack("{s:s, s:o, s:s}", "transfer",
                                   any_multipart ? "multipart" : "basic", "objects", out,
                                   "hash_algo", "sha256"),
                         LFS_JSON);
done:
    free(base);
    hubd_lfs_batch_request_clear(&batch);
    hubd_repo_meta_clear(&meta);
}

static bool query_number(hubd_request *req, const char *key, uint64_t *out)
{
    const char *v = hubd_query(req, key);
    if (!v || !*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 18)
        return false;
    *out = strtoull(v, NULL, 10);
    return true;
}

static bool bad_signature(hubd_request *req, const char *what)
{
    hubd_respond_error(req, 403, NULL,
                       "the %s URL's signature is missing, invalid or expired: ask the LFS "
                       "batch endpoint for a new one",
                       what);
    return false;
}

bool hubd_lfs_upload_begin(hubd_request *req)
{
    const char *oid = req->route.oid;
    uint64_t expires = 0, part = 0;
    if (!hubd_lfs_oid_valid(oid)) {
        hubd_respond_error(req, 404, NULL, "'%.80s' is not an LFS object id", oid);
        return false;
    }
    bool is_part = hubd_query(req, "part") != NULL;
    uint64_t chunk = 0;
    if (!query_number(req, "size", &req->upload_size) || !query_number(req, "expires", &expires) ||
        (is_part && (!query_number(req, "part", &part) || part == 0 || part > 99999 ||
                     !query_number(req, "chunk", &chunk) || chunk == 0 || chunk >= 1ull << 46)))
        return bad_signature(req, "upload");
    if (!hubd_sign_check(req->srv->signer, hubd_query(req, "sig"), is_part ? "part" : "put", oid,
                         req->upload_size, is_part ? part_extra(part, chunk) : 0,
                         (int64_t)expires))
        return bad_signature(req, "upload");
    const char *cl = hubd_header(req, "Content-Length");
    if (!is_part && cl && strtoull(cl, NULL, 10) != req->upload_size) {
        hubd_respond_error(req, 400, NULL,
                           "Content-Length %s does not match the size %" PRIu64
                           " the upload URL was issued for",
                           cl, req->upload_size);
        return false;
    }
    int rc = is_part ? hubd_lfs_part_begin(&req->writer, req->srv->lfs, oid, (unsigned)part,
                                           req->upload_size, chunk)
                     : hubd_lfs_writer_begin(&req->writer, req->srv->lfs, oid, req->upload_size);
    if (rc < 0) {
        hubd_respond_rc(req, rc, NULL);
        return false;
    }
    req->upload_part = part;
    return true;
}

int hubd_lfs_upload_sink(hubd_request *req, const char *data, size_t len)
{
    return hubd_lfs_writer_write(req->writer, data, len);
}

static void complete_multipart(hubd_request *req)
{
    const char *oid = req->route.oid;
    uint64_t size = 0, chunk = 0, expires = 0;
    json_t *body = NULL;
    unsigned *numbers = NULL;
    const char **etags = NULL;
    if (!hubd_lfs_oid_valid(oid)) {
        hubd_respond_error(req, 404, NULL, "'%.80s' is not an LFS object id", oid);
        return;
    }
    if (!query_number(req, "size", &size) || !query_number(req, "chunk", &chunk) || chunk == 0 ||
        !query_number(req, "expires", &expires) ||
        !hubd_sign_check(req->srv->signer, hubd_query(req, "sig"), "complete", oid, size, chunk,
                         (int64_t)expires)) {
        bad_signature(req, "completion");
        return;
    }
    if (!(body = hubd_body_json(req)))
        return;
    const char *body_oid = json_string_value(json_object_get(body, "oid"));
    json_t *parts = json_object_get(body, "parts");
    if (!body_oid || strcmp(body_oid, oid) != 0 || !json_is_array(parts)) {
        hubd_respond_error(req, 400, NULL,
                           "multipart completion: the body needs \"oid\" (%s) and \"parts\" "
                           "[{partNumber, etag}]",
                           oid);
        goto done;
    }
    size_t n = json_array_size(parts), want = (size_t)((size + chunk - 1) / chunk);
    if (n != want) {
        hubd_respond_error(req, 400, NULL,
                           "multipart completion of %s lists %zu parts; its %" PRIu64
                           " bytes in chunks of %" PRIu64 " make %zu",
                           oid, n, size, chunk, want);
        goto done;
    }
    numbers = hfs_calloc(n ? n : 1, sizeof(*numbers));
    etags = hfs_calloc(n ? n : 1, sizeof(*etags));
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(parts, i);
        json_t *num = json_object_get(p, "partNumber");
        const char *etag = json_string_value(json_object_get(p, "etag"));
        if (!json_is_integer(num) || json_integer_value(num) < 1 || !etag) {
            hubd_respond_error(req, 400, NULL,
                               "multipart completion: parts[%zu] needs \"partNumber\" (from 1) "
                               "and \"etag\" (as the part upload returned it)",
                               i);
            goto done;
        }
        numbers[i] = (unsigned)json_integer_value(num);
        etags[i] = etag;
    }
    int rc = hubd_lfs_multipart_complete(req->srv->lfs, oid, size, chunk, numbers, etags, n);
    if (rc < 0)
        hubd_respond_rc(req, rc, NULL);
    else
        hubd_respond_json(req, 200, json_pack("{s:b}", "success", 1));
done:
    free(numbers);
    free(etags);
    json_decref(body);
}

void hubd_handle_lfs_upload(hubd_request *req)
{
    if (strcmp(req->method, "POST") == 0) {
        complete_multipart(req);
        return;
    }
    hubd_lfs_writer *w = req->writer;
    req->writer = NULL;
    if (!w) {
        hubd_respond_error(req, 500, NULL, "internal error: the upload of %s was not started",
                           req->route.oid);
        return;
    }
    if (req->upload_rc < 0) {
        hubd_lfs_writer_abort(w);
        hubd_respond_error(req, req->upload_rc == HFS_EINVALID ? 400 : 500, NULL, "%s",
                           req->upload_error ? req->upload_error : "upload failed");
        return;
    }
    if (req->upload_part) {
        char etag[48];
        int rc = hubd_lfs_part_finish(w, etag, sizeof(etag));
        if (rc < 0) {
            hubd_respond_rc(req, rc, NULL);
            return;
        }
        hubd_respond_text(req, 200, "");
        hubd_add_header(req, "ETag", etag);
        return;
    }
    int rc = hubd_lfs_writer_finish(w);
    if (rc < 0) {
        hubd_respond_rc(req, rc, NULL);
        return;
    }
    char etag[72];
    snprintf(etag, sizeof(etag), "\"%s\"", req->route.oid);
    hubd_respond_text(req, 200, "");
    hubd_add_header(req, "ETag", etag);
}

void hubd_handle_lfs_verify(hubd_request *req)
{
    hubd_repo_meta meta = {0};
    json_t *body = NULL;
    bool is_signed = hubd_query(req, "sig") != NULL;
    /* the signed verify URL from a batch answer is its own credential (git-lfs sends no
     * Authorization to actions marked authenticated); without it, the caller needs a token
     * that can see the repo, as huggingface_hub sends */
    if (!is_signed) {
        if (!hubd_repo_visible(req, &meta))
            return;
        if (!req->grant.valid) {
            hubd_respond_error(req, 401, NULL,
                               "LFS verify needs a token (Authorization: Bearer hf_...) or the "
                               "signed verify URL from the batch answer");
            goto done;
        }
    }
    if (!(body = hubd_body_json(req)))
        goto done;
    const char *oid = json_string_value(json_object_get(body, "oid"));
    json_t *jsize = json_object_get(body, "size");
    if (!oid || !hubd_lfs_oid_valid(oid) || !json_is_integer(jsize) ||
        json_integer_value(jsize) < 0) {
        hubd_respond_error(req, 422, NULL,
                           "LFS verify: the body needs \"oid\" (64 lowercase hex digits) and "
                           "\"size\" (bytes)");
        goto done;
    }
    uint64_t size = (uint64_t)json_integer_value(jsize);
    uint64_t expires = 0;
    if (is_signed && (!query_number(req, "expires", &expires) ||
                      !hubd_sign_check(req->srv->signer, hubd_query(req, "sig"), "verify", oid,
                                       size, 0, (int64_t)expires))) {
        bad_signature(req, "verify");
        goto done;
    }
    uint64_t stored = 0;
    if (!hubd_lfs_has(req->srv->lfs, oid, &stored)) {
        hubd_respond_error(req, 404, NULL,
                           "LFS object %s was not uploaded (or its upload did not complete)",
                           oid);
        goto done;
    }
    if (stored != size) {
        hubd_respond_error(req, 422, NULL,
                           "LFS object %s has %" PRIu64 " bytes, not the %" PRIu64 " given",
                           oid, stored, size);
        goto done;
    }
    hubd_respond_json_as(req, 200, json_pack("{s:b}", "success", 1), LFS_JSON);
done:
    json_decref(body);
    hubd_repo_meta_clear(&meta);
}

void hubd_handle_lfs_locks(hubd_request *req)
{
    hubd_respond_error(req, 404, NULL,
                       "Git LFS file locking is not offered by this hub (%s); pushes work "
                       "without it",
                       req->route.repo_id);
}

void hubd_handle_lfs_download(hubd_request *req)
{
    const char *oid = req->route.oid;
    uint64_t expires = 0;
    if (!hubd_lfs_oid_valid(oid)) {
        hubd_respond_error(req, 404, NULL, "'%.80s' is not an LFS object id", oid);
        return;
    }
    if (!query_number(req, "expires", &expires) ||
        !hubd_sign_check(req->srv->signer, hubd_query(req, "sig"), "get", oid, 0, 0,
                         (int64_t)expires)) {
        bad_signature(req, "download");
        return;
    }
    char *path = hubd_lfs_object_path(req->srv->lfs, oid);
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        free(path);
        hubd_respond_error(req, 404, "EntryNotFound", "LFS object %s is not stored on this hub",
                           oid);
        return;
    }
    free(path);
    char etag[72];
    snprintf(etag, sizeof(etag), "\"%s\"", oid);
    hubd_serve_fd(req, fd, (uint64_t)st.st_size, etag);
}
