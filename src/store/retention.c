/* Retention of the packet store: see retention.h.
 *
 * A pass lists the store once.  A segment is every file named
 * "seg-<base>.<ext>" with one base: its data (".pcap", or whatever else the
 * writer gives it) and its index (".idx").  Bases sort by their first
 * packet time (20 digits), so the list sorted by name is oldest first.
 * Every regular file of the directory, hidden ones (open segments, temp
 * files) included, counts towards the size.  Then, oldest first and never
 * the newest segment:
 *
 *   age   its data was last written before now - store.max_age;
 *   size  the store is larger than store.max_size;
 *   free  the file system has less than store.min_free available;
 *
 * and the segment goes: data renamed ".del-<name>", index removed, the
 * ".del-" file removed.  The sizes are brought down by what each removal
 * freed (its bytes, and its blocks for the free space), so one pass ends
 * under the limits. */
#include "store/retention.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#define DEL_PREFIX ".del-"
#define MAX_DATA 4               /* data files of one segment */
/* An index without its segment is removed only when it is this old: the
 * writer renames the segment into view before it writes the index, but a
 * listing may see the one and not the other while both change. */
#define ORPHAN_AGE_NS (10 * 1000000000ull)

struct seg {
	char base[96];           /* "seg-..." up to the first '.' */
	char ext[MAX_DATA][24];  /* data files: base + ext */
	unsigned ndata;
	bool has_idx;
	uint64_t bytes;          /* data and index, st_size */
	uint64_t disk;           /* data and index, st_blocks */
	uint64_t mtime_ns;       /* latest of the data files */
	uint64_t idx_mtime_ns;
};

struct tp_retention {
	const struct tp_config *cfg;
	/* Held briefly: the counters, the thread's stop flag.  A pass,
	 * which may take a while (removing large files), holds pass_mu, so
	 * that the stats never wait for it. */
	pthread_mutex_t mu;
	struct tp_retention_stats st;
	pthread_mutex_t pass_mu; /* one pass at a time; segs */
	struct seg *segs;
	size_t nsegs, cap;
	/* the thread */
	pthread_t thread;
	bool running;
	bool stop;
	pthread_cond_t cv;
	uint64_t interval_ns;
};

static const char *const reason_names[TP_RET__COUNT] = {
	[TP_RET_SIZE] = "size",
	[TP_RET_FREE] = "free",
	[TP_RET_AGE] = "age",
};

const char *tp_retention_reason_name(enum tp_retention_reason r)
{
	return r < TP_RET__COUNT ? reason_names[r] : "?";
}

/* store.min_free as bytes on a file system of total bytes. */
static uint64_t floor_bytes(const char *text, uint64_t total)
{
	size_t n = strlen(text);
	if (n && text[n - 1] == '%')
		return (uint64_t)((__uint128_t)total * strtoull(text, NULL, 10) /
				  100);
	return strtoull(text, NULL, 10);
}

bool tp_retention_wanted(const struct tp_config *cfg)
{
	return cfg->store_max_size || cfg->store_max_age_ns ||
	       strtoull(cfg->store_min_free, NULL, 10) != 0;
}

struct tp_retention *tp_retention_new(const struct tp_config *cfg)
{
	struct tp_retention *r = tp_calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->cfg = cfg;
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->pass_mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	return r;
}

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

static int cmp_seg(const void *a, const void *b)
{
	return strcmp(((const struct seg *)a)->base,
		      ((const struct seg *)b)->base);
}

/* The segment of base, added when new; NULL on ENOMEM. */
static struct seg *seg_of(struct tp_retention *r, const char *base,
			  size_t blen)
{
	/* Files of one segment are usually listed together. */
	for (size_t i = r->nsegs; i-- > 0 && i + 8 >= r->nsegs;)
		if (strlen(r->segs[i].base) == blen &&
		    !memcmp(r->segs[i].base, base, blen))
			return &r->segs[i];
	if (r->nsegs == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 256;
		struct seg *s = tp_realloc(r->segs, r->cap * sizeof(*s),
					   nc * sizeof(*s));
		if (!s)
			return NULL;
		r->segs = s;
		r->cap = nc;
	}
	struct seg *s = &r->segs[r->nsegs++];
	memset(s, 0, sizeof(*s));
	memcpy(s->base, base, blen);
	return s;
}

/* Merge the entries of one base that a listing gave apart (the lookup in
 * seg_of only looks back a little), after sorting. */
static void merge_dups(struct tp_retention *r)
{
	size_t o = 0;
	for (size_t i = 0; i < r->nsegs; i++) {
		if (o && !strcmp(r->segs[o - 1].base, r->segs[i].base)) {
			struct seg *d = &r->segs[o - 1], *s = &r->segs[i];
			for (unsigned k = 0; k < s->ndata && d->ndata < MAX_DATA;
			     k++)
				memcpy(d->ext[d->ndata++], s->ext[k],
				       sizeof(d->ext[0]));
			d->has_idx |= s->has_idx;
			d->bytes += s->bytes;
			d->disk += s->disk;
			if (s->mtime_ns > d->mtime_ns)
				d->mtime_ns = s->mtime_ns;
			if (s->idx_mtime_ns > d->idx_mtime_ns)
				d->idx_mtime_ns = s->idx_mtime_ns;
			continue;
		}
		if (o != i)
			r->segs[o] = r->segs[i];
		o++;
	}
	r->nsegs = o;
}

/* List the store: r->segs sorted oldest first, *total the bytes of every
 * regular file.  0 or -errno. */
static int list_store(struct tp_retention *r, int dfd, uint64_t *total)
{
	DIR *d = fdopendir(dup(dfd));
	if (!d)
		return -errno;
	size_t pl = strlen(TP_STORE_SEG_PREFIX);
	struct dirent *de;
	int rc = 0;

	r->nsegs = 0;
	*total = 0;
	while ((de = readdir(d))) {
		struct stat st;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		*total += (uint64_t)st.st_size;
		if (strncmp(de->d_name, TP_STORE_SEG_PREFIX, pl))
			continue;
		const char *dot = strchr(de->d_name, '.');
		size_t blen = dot ? (size_t)(dot - de->d_name) : 0;
		if (!dot || blen >= sizeof(r->segs[0].base) ||
		    strlen(dot) >= sizeof(r->segs[0].ext[0]))
			continue;
		struct seg *s = seg_of(r, de->d_name, blen);
		if (!s) {
			rc = -ENOMEM;
			break;
		}
		s->bytes += (uint64_t)st.st_size;
		s->disk += (uint64_t)st.st_blocks * 512;
		if (!strcmp(dot, TP_STORE_IDX_SUFFIX)) {
			s->has_idx = true;
			s->idx_mtime_ns = ts_ns(&st.st_mtim);
		} else if (s->ndata < MAX_DATA) {
			memcpy(s->ext[s->ndata++], dot, strlen(dot) + 1);
			if (ts_ns(&st.st_mtim) > s->mtime_ns)
				s->mtime_ns = ts_ns(&st.st_mtim);
		}
	}
	closedir(d);
	if (r->nsegs > 1) {
		qsort(r->segs, r->nsegs, sizeof(*r->segs), cmp_seg);
		merge_dups(r);
	}
	return rc;
}

/* Remove one segment: data hidden first, then the index, then the data.
 * 0 or -errno (the first failure; the rest is still tried). */
static int remove_seg(int dfd, const struct seg *s)
{
	char name[160], del[168];
	int rc = 0;

	for (unsigned k = 0; k < s->ndata; k++) {
		snprintf(name, sizeof(name), "%s%s", s->base, s->ext[k]);
		snprintf(del, sizeof(del), DEL_PREFIX "%s", name);
		if (renameat(dfd, name, dfd, del) < 0 && errno != ENOENT && !rc)
			rc = -errno;
	}
	snprintf(name, sizeof(name), "%s" TP_STORE_IDX_SUFFIX, s->base);
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT && !rc)
		rc = -errno;
	for (unsigned k = 0; k < s->ndata; k++) {
		snprintf(del, sizeof(del), DEL_PREFIX "%s%s", s->base, s->ext[k]);
		if (unlinkat(dfd, del, 0) < 0 && errno != ENOENT && !rc)
			rc = -errno;
	}
	return rc;
}

int tp_retention_pass(struct tp_retention *r, uint64_t now_ns)
{
	const struct tp_config *cfg = r->cfg;
	uint64_t total = 0, removed[TP_RET__COUNT] = {0};
	uint64_t rbytes[TP_RET__COUNT] = {0}, orphans = 0, errors = 0;
	uint64_t had_errors;
	size_t left = 0;
	int rc = 0;

	pthread_mutex_lock(&r->mu);
	had_errors = r->st.errors;
	pthread_mutex_unlock(&r->mu);
	pthread_mutex_lock(&r->pass_mu);
	int dfd = open(cfg->store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = -errno;
		pthread_mutex_unlock(&r->pass_mu);
		/* No store yet: nothing was written. */
		if (rc == -ENOENT)
			return 0;
		if (!had_errors)
			tp_log_error("store: retention cannot open %s: %s",
				     cfg->store_dir, strerror(-rc));
		pthread_mutex_lock(&r->mu);
		r->st.errors++;
		pthread_mutex_unlock(&r->mu);
		return rc;
	}
	rc = list_store(r, dfd, &total);
	if (rc < 0) {
		errors++;
		goto out;
	}

	/* Free space: what an unprivileged writer may still use. */
	uint64_t need_free = 0;
	struct statvfs vfs;
	if (fstatvfs(dfd, &vfs) == 0) {
		uint64_t fs = (uint64_t)vfs.f_blocks * vfs.f_frsize;
		uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		uint64_t fl = floor_bytes(cfg->store_min_free, fs);
		if (fl > avail)
			need_free = fl - avail;
	} else {
		errors++;
	}

	/* The newest segment with data is never removed. */
	size_t newest = r->nsegs;
	for (size_t i = r->nsegs; i-- > 0;)
		if (r->segs[i].ndata) {
			newest = i;
			break;
		}
	uint64_t age_before = cfg->store_max_age_ns &&
					      now_ns > cfg->store_max_age_ns
				      ? now_ns - cfg->store_max_age_ns
				      : 0;
	for (size_t i = 0; i < r->nsegs; i++) {
		const struct seg *s = &r->segs[i];
		if (!s->ndata) {
			/* An index whose segment went: a removal cut
			 * short, whose ".del-" file the writer's recovery
			 * takes. */
			char name[160];
			snprintf(name, sizeof(name), "%s" TP_STORE_IDX_SUFFIX,
				 s->base);
			if (s->has_idx && s->idx_mtime_ns + ORPHAN_AGE_NS < now_ns &&
			    unlinkat(dfd, name, 0) == 0) {
				orphans++;
				total -= s->bytes < total ? s->bytes : total;
			}
			continue;
		}
		int why = -1;
		if (i == newest)
			why = -1;
		else if (age_before && s->mtime_ns < age_before)
			why = TP_RET_AGE;
		else if (cfg->store_max_size && total > cfg->store_max_size)
			why = TP_RET_SIZE;
		else if (need_free)
			why = TP_RET_FREE;
		if (why < 0) {
			left++;
			continue;
		}
		int e = remove_seg(dfd, s);
		if (e < 0) {
			if (!errors && !had_errors)
				tp_log_error("store: cannot remove %s/%s: %s",
					     cfg->store_dir, s->base,
					     strerror(-e));
			errors++;
			left++;
			continue;
		}
		removed[why]++;
		rbytes[why] += s->bytes;
		total -= s->bytes < total ? s->bytes : total;
		need_free -= s->disk < need_free ? s->disk : need_free;
	}
out:
	close(dfd);
	pthread_mutex_unlock(&r->pass_mu);
	pthread_mutex_lock(&r->mu);
	if (rc == 0)
		r->st.store_segments = left;
	r->st.passes++;
	r->st.store_bytes = total;
	r->st.orphans += orphans;
	r->st.errors += errors;
	for (int k = 0; k < TP_RET__COUNT; k++) {
		r->st.segments[k] += removed[k];
		r->st.bytes[k] += rbytes[k];
	}
	pthread_mutex_unlock(&r->mu);
	for (int k = 0; k < TP_RET__COUNT; k++)
		if (removed[k])
			tp_log_info("store: removed %" PRIu64 " segment%s "
				    "(%" PRIu64 " bytes) from %s: %s",
				    removed[k], removed[k] == 1 ? "" : "s",
				    rbytes[k], cfg->store_dir,
				    k == TP_RET_SIZE ? "over store.max_size"
				    : k == TP_RET_FREE
					    ? "free space below store.min_free"
					    : "older than store.max_age");
	return rc;
}

static uint64_t wall_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return ts_ns(&t);
}

static void *retention_main(void *arg)
{
	struct tp_retention *r = arg;

	/* Below the packet path: the receive threads and workers come
	 * first on a busy machine. */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		pthread_mutex_unlock(&r->mu);
		tp_retention_pass(r, wall_ns());
		pthread_mutex_lock(&r->mu);
		struct timespec dl;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		uint64_t t = ts_ns(&dl) + r->interval_ns;
		dl.tv_sec = (time_t)(t / 1000000000ull);
		dl.tv_nsec = (long)(t % 1000000000ull);
		while (!r->stop &&
		       pthread_cond_timedwait(&r->cv, &r->mu, &dl) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int tp_retention_start(struct tp_retention *r, uint64_t interval_ns)
{
	pthread_condattr_t ca;
	sigset_t all, old;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&r->cv);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	r->interval_ns = interval_ns;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&r->thread, NULL, retention_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e)
		return -e;
	r->running = true;
	return 0;
}

void tp_retention_stats(const struct tp_retention *r,
			struct tp_retention_stats *st)
{
	struct tp_retention *m = (struct tp_retention *)r;
	pthread_mutex_lock(&m->mu);
	*st = r->st;
	pthread_mutex_unlock(&m->mu);
}

void tp_retention_free(struct tp_retention *r)
{
	if (!r)
		return;
	if (r->running) {
		pthread_mutex_lock(&r->mu);
		r->stop = true;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->thread, NULL);
	}
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->pass_mu);
	tp_free(r->segs, r->cap * sizeof(*r->segs));
	tp_free(r, sizeof(*r));
}
