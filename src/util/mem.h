/* The one allocation wrapper.  It counts live bytes so that the stats
 * record can show them.  Out-of-memory policy: allocations made at set-up
 * (tables, pools, rings) return NULL and the caller refuses to start; there
 * are no allocations on the packet path. */
#ifndef TP_UTIL_MEM_H
#define TP_UTIL_MEM_H

#include <stddef.h>
#include <stdint.h>

void *tp_malloc(size_t n);
void *tp_calloc(size_t nmemb, size_t size);
void *tp_realloc(void *p, size_t old_n, size_t n);
void tp_free(void *p, size_t n);
/* Zeroed memory aligned to align (a power of two, e.g. a cache line). */
void *tp_calloc_aligned(size_t align, size_t n);
char *tp_strdup(const char *s);
void tp_strfree(char *s);

/* Bytes currently held through this wrapper: the total, and this
 * thread's share not yet added to it.  Other threads' shares (64 KiB at
 * most each) count once they pass that or call tp_mem_flush_thread(). */
uint64_t tp_mem_in_use(void);
/* Add this thread's share to the total (a thread that ends). */
void tp_mem_flush_thread(void);

#endif
