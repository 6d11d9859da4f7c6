/* Reading a segment's scattered records from a cold page cache: the
 * byte ranges a query will read, planned in file order (nearby ones
 * merged), and asked of the disk ahead of the reader
 * (posix_fadvise(WILLNEED)), so that the disk has many requests at a
 * time, in order, while the reader waits for the first. */
#ifndef TP_STORE_SEG_READ_H
#define TP_STORE_SEG_READ_H

#include <stddef.h>
#include <stdint.h>

/* At most this many ranges, and this many bytes, asked ahead. */
#define TP_SEG_AHEAD_RANGES 4096u
#define TP_SEG_AHEAD_BYTES (128u << 20)
#define TP_SEG_RANGE_MAX (1u << 20)

struct tp_seg_range {
	uint64_t at, len;
};

struct tp_seg_ahead {
	int fd;
	struct tp_seg_range *r;
	size_t n, cap;
	size_t cur;              /* the first range not passed yet */
	size_t next;             /* the first range not asked yet */
	uint64_t asked;          /* bytes of ranges cur .. next */
};

/* Plan the ranges of file fd: [at[i], at[i] + len[i]) for n ascending
 * at[] (len NULL: est bytes each), merged when less than gap apart into
 * ranges of at most TP_SEG_RANGE_MAX bytes (unless one alone is
 * longer), each cut at limit (the file's size).  Replaces an earlier
 * plan.  0 or -ENOMEM (nothing is then asked ahead: the reads still
 * work). */
int tp_seg_ahead_plan(struct tp_seg_ahead *a, int fd, const uint64_t *at,
		      const uint64_t *len, size_t n, uint64_t est,
		      uint64_t gap, uint64_t limit);


/* The reader is at file offset pos: ask for the ranges ahead of it,
 * within the bounds above. */
void tp_seg_ahead_to(struct tp_seg_ahead *a, uint64_t pos);

void tp_seg_ahead_free(struct tp_seg_ahead *a);

#endif
