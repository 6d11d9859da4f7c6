/* The ranges of a segment read ahead: see seg-read.h. */
#include "store/seg-read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

int tp_seg_ahead_plan(struct tp_seg_ahead *a, int fd, const uint64_t *at,
		      const uint64_t *len, size_t n, uint64_t est,
		      uint64_t gap, uint64_t limit)
{
	a->fd = fd;
	a->n = a->cur = a->next = 0;
	a->asked = 0;
	if (n > a->cap) {
		struct tp_seg_range *r = realloc(a->r, n * sizeof(*r));
		if (!r)
			return -ENOMEM;
		a->r = r;
		a->cap = n;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t s = at[i], e = s + (len ? len[i] : est);
		if (s >= limit)
			break;
		if (e > limit)
			e = limit;
		struct tp_seg_range *last = a->n ? &a->r[a->n - 1] : NULL;
		if (last && s <= last->at + last->len + gap &&
		    e - last->at <= TP_SEG_RANGE_MAX) {
			if (e > last->at + last->len)
				last->len = e - last->at;
			continue;
		}
		a->r[a->n++] = (struct tp_seg_range){s, e - s};
	}
	return 0;
}

void tp_seg_ahead_to(struct tp_seg_ahead *a, uint64_t pos)
{
	while (a->cur < a->n && a->r[a->cur].at + a->r[a->cur].len <= pos) {
		if (a->cur < a->next)
			a->asked -= a->r[a->cur].len;
		a->cur++;
	}
	if (a->next < a->cur)
		a->next = a->cur;
	while (a->next < a->n && a->next - a->cur < TP_SEG_AHEAD_RANGES &&
	       a->asked < TP_SEG_AHEAD_BYTES) {
		const struct tp_seg_range *r = &a->r[a->next++];
		posix_fadvise(a->fd, (off_t)r->at, (off_t)r->len,
			      POSIX_FADV_WILLNEED);
		a->asked += r->len;
	}
}

void tp_seg_ahead_free(struct tp_seg_ahead *a)
{
	free(a->r);
	a->r = NULL;
	a->n = a->cap = a->cur = a->next = 0;
}
