/* A small LRU cache of tree listings with reference counts, so a listing evicted while a
 * request still reads it is freed only when that request is done. */
#include "hubd/listing_cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct hubd_listing {
    char *key;
    hubd_entry *entries;
    size_t count;
    int refs;      /* requests holding it, plus one while it is in the cache */
    uint64_t used; /* the cache's clock when last handed out */
};

struct hubd_listings {
    pthread_mutex_t lock;
    hubd_listing **slots;
    size_t capacity;
    uint64_t clock;
};

hubd_listings *hubd_listings_new(size_t capacity)
{
    hubd_listings *c = hfs_calloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->capacity = capacity ? capacity : 1;
    c->slots = hfs_calloc(c->capacity, sizeof(*c->slots));
    return c;
}

static void listing_unref_locked(hubd_listing *l)
{
    if (--l->refs > 0)
        return;
    hubd_entries_free(l->entries, l->count);
    free(l->key);
    free(l);
}

void hubd_listings_free(hubd_listings *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->capacity; i++)
        if (c->slots[i])
            listing_unref_locked(c->slots[i]);
    free(c->slots);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

hubd_listing *hubd_listings_get(hubd_listings *c, const char *key)
{
    hubd_listing *found = NULL;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->capacity; i++) {
        hubd_listing *l = c->slots[i];
        if (l && strcmp(l->key, key) == 0) {
            l->refs++;
            l->used = ++c->clock;
            found = l;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

hubd_listing *hubd_listings_put(hubd_listings *c, const char *key, hubd_entry *entries,
                                size_t count)
{
    hubd_listing *l = hfs_calloc(1, sizeof(*l));
    l->key = hfs_strdup(key);
    l->entries = entries;
    l->count = count;
    l->refs = 2; /* the caller's hold and the cache's */
    pthread_mutex_lock(&c->lock);
    l->used = ++c->clock;
    size_t victim = 0;
    for (size_t i = 0; i < c->capacity; i++) {
        if (!c->slots[i]) {
            victim = i;
            break;
        }
        if (c->slots[i]->used < c->slots[victim]->used)
            victim = i;
    }
    if (c->slots[victim])
        listing_unref_locked(c->slots[victim]);
    c->slots[victim] = l;
    pthread_mutex_unlock(&c->lock);
    return l;
}

void hubd_listing_release(hubd_listings *c, hubd_listing *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&c->lock);
    listing_unref_locked(l);
    pthread_mutex_unlock(&c->lock);
}

const hubd_entry *hubd_listing_entries(const hubd_listing *l, size_t *count)
{
    *count = l->count;
    return l->entries;
}
