/* A small cache of recursive tree listings, keyed by repo, commit oid and path. A commit
 * never changes, so an entry never goes stale; it spares a paginated listing of a big repo
 * from walking the whole tree again for every 1,000-entry page (quadratic otherwise). */
#ifndef HUBD_LISTING_CACHE_H
#define HUBD_LISTING_CACHE_H

#include <stddef.h>

#include "hubd/repo.h"

typedef struct hubd_listings hubd_listings;

/* A cached listing: read-only while held; give it back with hubd_listing_release. */
typedef struct hubd_listing hubd_listing;

hubd_listings *hubd_listings_new(size_t capacity);
void hubd_listings_free(hubd_listings *cache);

/* The listing for `key`, or NULL when it is not cached. */
hubd_listing *hubd_listings_get(hubd_listings *cache, const char *key);
/* Caches entries (taking them) under key and returns the listing, held once. */
hubd_listing *hubd_listings_put(hubd_listings *cache, const char *key, hubd_entry *entries,
                                size_t count);
void hubd_listing_release(hubd_listings *cache, hubd_listing *listing);

const hubd_entry *hubd_listing_entries(const hubd_listing *listing, size_t *count);

#endif
