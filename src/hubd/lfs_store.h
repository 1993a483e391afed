/* The local hub's content-addressed LFS object store: ROOT/lfs/objects/AB/SHA256.
 * Objects are streamed to a temp file, checked (sha256 and size), flushed to disk and renamed
 * into place, so a crash mid-upload never leaves a half object visible. */
#ifndef HUBD_LFS_STORE_H
#define HUBD_LFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hubd_lfs_store hubd_lfs_store;
typedef struct hubd_lfs_writer hubd_lfs_writer;

/* Opens (creating directories as needed) the store under `root` (the hub's --root). Temp
 * files (AB/.upload-*) that a killed hub left are removed here. */
int hubd_lfs_store_open(hubd_lfs_store **out, const char *root);
/* Closes the store (after hubd_lfs_sync). */
void hubd_lfs_store_free(hubd_lfs_store *store);
/* How much memory the buffers of direct writes may take (256 MiB unless set): multipart parts
 * wait in them to be hashed; uploads that find it spent are written through the page cache. */
void hubd_lfs_store_set_pool_budget(hubd_lfs_store *store, size_t bytes);

/* Makes the names of the objects stored so far durable: flushes each directory an object
 * was renamed into since the last sync (their bytes were flushed before the rename). Run
 * before anything that refers to objects is written (a commit, an accepted push): a commit
 * that survives a power loss then finds its objects. When it returns, every object stored
 * before the call is durable, a sync running meanwhile included. Returns how many
 * directories it flushed, or an error (the directories stay due for the next sync). */
int hubd_lfs_sync(hubd_lfs_store *store);

/* Is this a well-formed oid (64 lowercase hex digits)? */
bool hubd_lfs_oid_valid(const char *oid);
/* Is the object present? Fills *size when it is (size may be NULL). `oid` is 64 lowercase hex. */
bool hubd_lfs_has(const hubd_lfs_store *store, const char *oid, uint64_t *size);
/* The absolute path of a present object (caller frees), for serving downloads; NULL if absent. */
char *hubd_lfs_object_path(const hubd_lfs_store *store, const char *oid);

/* A streaming upload of one whole object (basic transfer). finish() verifies that the bytes
 * hash to `oid` and number `size`, then makes the object visible atomically; on mismatch it
 * returns HFS_EINVALID with a message and discards the temp file. abort() discards it.
 * An object of 1 to 64 MiB is written with O_DIRECT (where the filesystem allows it) and
 * hashed as it comes in; a larger one is hashed by a thread of its own while it is written
 * (write() only writes), so finish() has little left to hash; finish() and abort() end that
 * thread. */
int hubd_lfs_writer_begin(hubd_lfs_writer **out, hubd_lfs_store *store, const char *oid,
                          uint64_t size);
int hubd_lfs_writer_write(hubd_lfs_writer *w, const void *data, size_t len);
int hubd_lfs_writer_finish(hubd_lfs_writer *w); /* frees w */
void hubd_lfs_writer_abort(hubd_lfs_writer *w); /* frees w; NULL is fine */

/* Multipart: part N (1-based) of object `oid` (of `size` bytes, in parts of `chunk`, as
 * the batch answer said) is written in place into the upload's one file, and the parts are
 * hashed as soon as they follow each other (a part of whole blocks, up to 16 MiB, is written
 * with O_DIRECT and hashed from the memory it came in, kept until then); complete() checks
 * the ETags, hashes what is left, and renames the file into place. A part's ETag is an opaque quoted token (32 hex
 * digits) naming that upload of the part; the completion must hand back each part's last one.
 * A part sent while its upload is being completed is refused (HFS_ELOCKED). */
int hubd_lfs_part_begin(hubd_lfs_writer **out, hubd_lfs_store *store, const char *oid,
                        unsigned part_number, uint64_t size, uint64_t chunk);
/* Finishes a part (it must have its full length); writes its ETag (including the
 * surrounding quotes) into etag_out. Frees w. */
int hubd_lfs_part_finish(hubd_lfs_writer *w, char *etag_out, size_t etag_size);
/* Completes a multipart upload given the parts' numbers and ETags as the client sent them;
 * every ETag must match the stored part's and the parts must make `size` in `chunk`s. */
int hubd_lfs_multipart_complete(hubd_lfs_store *store, const char *oid, uint64_t size,
                                uint64_t chunk, const unsigned *part_numbers,
                                const char *const *etags, size_t count);

#endif
