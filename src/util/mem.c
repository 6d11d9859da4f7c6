#include "util/mem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic uint64_t in_use;

void *tp_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p)
		atomic_fetch_add_explicit(&in_use, n, memory_order_relaxed);
	return p;
}

void *tp_calloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p)
		atomic_fetch_add_explicit(&in_use, nmemb * size,
					  memory_order_relaxed);
	return p;
}

void *tp_realloc(void *p, size_t old_n, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q) {
		atomic_fetch_sub_explicit(&in_use, old_n, memory_order_relaxed);
		atomic_fetch_add_explicit(&in_use, n, memory_order_relaxed);
	}
	return q;
}

void tp_free(void *p, size_t n)
{
	if (!p)
		return;
	atomic_fetch_sub_explicit(&in_use, n, memory_order_relaxed);
	free(p);
}

void *tp_calloc_aligned(size_t align, size_t n)
{
	size_t rounded = (n + align - 1) & ~(align - 1);
	void *p = aligned_alloc(align, rounded ? rounded : align);
	if (!p)
		return NULL;
	memset(p, 0, rounded);
	atomic_fetch_add_explicit(&in_use, n, memory_order_relaxed);
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
	return atomic_load_explicit(&in_use, memory_order_relaxed);
}
