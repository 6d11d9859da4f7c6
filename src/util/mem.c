#include "util/mem.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Counted per thread and added to the total in steps of 64 KiB: a single
 * counter that every allocation and free of every thread updated was a
 * cache line the workers passed back and forth between their cores. */
#define FLUSH_AT (64 << 10)

static _Atomic int64_t in_use;
static _Thread_local int64_t local;

static inline void account(int64_t d)
{
	local += d;
	if (local >= FLUSH_AT || local <= -FLUSH_AT) {
		atomic_fetch_add_explicit(&in_use, local, memory_order_relaxed);
		local = 0;
	}
}

/* Large tables (rings, flow pools, hash buckets) in transparent huge
 * pages where the kernel offers them on request: one page fault and one
 * TLB entry per 2 MiB instead of 512.  Page faults are dear on virtual
 * machines, and a worker's flow lookups land all over its tables. */
#define HUGE_PAGE (2u << 20)
#define HUGE_FROM (4u << 20)

static void want_huge(void *p, size_t n)
{
	if (n < HUGE_FROM)
		return;
	uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
	uintptr_t b = ((uintptr_t)p + n) & ~(uintptr_t)(HUGE_PAGE - 1);
	if (b > a)
		madvise((void *)a, b - a, MADV_HUGEPAGE);
}

void *tp_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p) {
		account((int64_t)n);
		want_huge(p, n);
	}
	return p;
}

void *tp_calloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p) {
		account((int64_t)(nmemb * size));
		want_huge(p, nmemb * size);
	}
	return p;
}

void *tp_realloc(void *p, size_t old_n, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q) {
		account((int64_t)n - (int64_t)old_n);
		want_huge(q, n);
	}
	return q;
}

void tp_free(void *p, size_t n)
{
	if (!p)
		return;
	account(-(int64_t)n);
	free(p);
}

void *tp_calloc_aligned(size_t align, size_t n)
{
	if (n >= HUGE_FROM && align < HUGE_PAGE)
		align = HUGE_PAGE;  /* whole huge pages */
	size_t rounded = (n + align - 1) & ~(align - 1);
	void *p = aligned_alloc(align, rounded ? rounded : align);
	if (!p)
		return NULL;
	want_huge(p, rounded);
	memset(p, 0, rounded);
	account((int64_t)n);
	return p;
}

char *tp_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = tp_malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

void tp_strfree(char *s)
{
	if (s)
		tp_free(s, strlen(s) + 1);
}

uint64_t tp_mem_in_use(void)
{
	int64_t v = atomic_load_explicit(&in_use, memory_order_relaxed) + local;
	return v > 0 ? (uint64_t)v : 0;
}

void tp_mem_flush_thread(void)
{
	if (local) {
		atomic_fetch_add_explicit(&in_use, local, memory_order_relaxed);
		local = 0;
	}
}
