/* Segment writer: one per front.  Frames go, as received, into a
 * nanosecond pcap file written under a hidden name and renamed when the
 * segment closes (size store.segment_size or age store.segment_age
 * reached, store.publish_interval of wall-clock time passed, a new link
 * type, or the end); the index is built alongside (store/build.c) and
 * written, then the manifest is updated (store/manifest.c).  Record
 * header:
 *
 *  +---------------+---------------+---------------+---------------+
 *  |                 timestamp seconds                             |
 *  |                 timestamp nanoseconds                         |
 *  |                 captured length                               |
 *  |                 original length                               |
 *  +---------------+---------------+---------------+---------------+
 *
 * Writes bypass the page cache (O_DIRECT, where the file system allows
 * it): copying 1 GB/s into the page cache costs more CPU than the rest of
 * the store's work.  The buffer is then written in whole 4 KiB blocks;
 * the last partial block is written padded when the segment closes and
 * the file is cut back to its length.
 *
 * A UDP listener's frame has no outer headers (the socket took them): an
 * IPv4 or IPv6 + UDP header is made from the addresses and ports the
 * source gave, and the segment's link type is LINKTYPE_RAW. */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "mirror/session.h"
#include "store/build.h"
#include "store/index.h"
#include "store/manifest.h"
#include "store/recover.h"
#include "util/log.h"
#include "store/le.h"
#include "util/mem.h"

#define BUF_SIZE (1u << 20)
#define BLOCK 4096u
#define LINKTYPE_RAW 101
#define SNAPLEN 262144u
/* The wall clock is read once per this many packets (and at each tick). */
#define WALL_EVERY 4096u
/* zstd: a block is compressed once it holds this much, and can hold a
 * whole record more. */
#define ZBLOCK (64u << 10)
#define ZBLOCK_CAP (ZBLOCK + (512u << 10))

struct tp_store_writer {
	const struct tp_config *cfg;
	struct tp_sessions *sessions;
	unsigned front;
	unsigned seq;
	int fd;                  /* -1: no segment open */
	bool direct;             /* fd is O_DIRECT */
	uint32_t linktype;
	char tmp[4352], final[4352];
	uint8_t *buf;            /* BUF_SIZE, BLOCK-aligned */
	size_t nbuf;
	uint64_t flushed;        /* file offset of buf[0] */
	uint64_t off;            /* segment (pcap) bytes so far, buffered
				  * included: the next record's address */
	uint64_t fbytes;         /* file bytes so far (compressed) */
	/* store.compress: zstd */
	bool zstd;
	ZSTD_CCtx *zc;
	uint8_t *blk, *zbuf;     /* the block being filled; its frame */
	size_t nblk, zcap;
	uint64_t blk_start;      /* pcap offset of blk[0] */
	struct tp_idx_block *blocks;
	uint32_t nblocks, cap_blocks;
	uint64_t first_ns;
	uint64_t opened_wall;    /* CLOCK_MONOTONIC ns at open */
	uint32_t since_wall;
	struct tp_idx_builder b;
	uint64_t packets, errors;
	uint64_t bytes, segments;        /* for tp_store_stats */
	int first_err;
};

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fail(struct tp_store_writer *w, int e, const char *what)
{
	if (!w->errors++)
		tp_log_error("store: %s %s: %s (further errors are counted)",
			     what, w->tmp, strerror(e));
	if (!w->first_err)
		w->first_err = -e;
}

static int pwrite_all(struct tp_store_writer *w, const uint8_t *p, size_t n,
		      uint64_t at)
{
	while (n) {
		ssize_t r = pwrite(w->fd, p, n, (off_t)at);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EINVAL && w->direct) {
				/* The file system takes O_DIRECT at open
				 * but not this write: go through the page
				 * cache from here on. */
				int fl = fcntl(w->fd, F_GETFL);
				if (fl >= 0 &&
				    fcntl(w->fd, F_SETFL, fl & ~O_DIRECT) == 0) {
					w->direct = false;
					continue;
				}
			}
			return -errno;
		}
		p += r;
		n -= (size_t)r;
		at += (uint64_t)r;
	}
	return 0;
}

/* Write the buffer's whole blocks (all of it when final, the last block
 * zero-padded under O_DIRECT, then the file cut to its length). */
static void flush_buf(struct tp_store_writer *w, bool final)
{
	if (w->fd < 0) {
		w->nbuf = 0;
		return;
	}
	size_t n = w->direct && !final ? w->nbuf & ~(size_t)(BLOCK - 1)
				       : w->nbuf;
	size_t wn = n;
	if (final && w->direct && (n & (BLOCK - 1))) {
		wn = (n + BLOCK - 1) & ~(size_t)(BLOCK - 1);
		memset(w->buf + n, 0, wn - n);
	}
	if (wn) {
		int r = pwrite_all(w, w->buf, wn, w->flushed);
		if (r < 0)
			fail(w, -r, "writing");
	}
	if (final) {
		if (wn != n && ftruncate(w->fd, (off_t)(w->flushed + n)) < 0)
			fail(w, errno, "truncating");
		w->flushed += n;
		w->nbuf = 0;
		return;
	}
	memmove(w->buf, w->buf + n, w->nbuf - n);
	w->nbuf -= n;
	w->flushed += n;
}

static void emit_file(struct tp_store_writer *w, const void *p, size_t n)
{
	const uint8_t *q = p;
	w->fbytes += n;
	while (n) {
		if (w->nbuf == BUF_SIZE)
			flush_buf(w, false);
		size_t k = BUF_SIZE - w->nbuf < n ? BUF_SIZE - w->nbuf : n;
		memcpy(w->buf + w->nbuf, q, k);
		w->nbuf += k;
		q += k;
		n -= k;
	}
}

/* Compress the block into one zstd frame and write it. */
static void end_block(struct tp_store_writer *w)
{
	if (!w->nblk)
		return;
	if (w->nblocks + 1 >= w->cap_blocks) {
		uint32_t c = w->cap_blocks ? w->cap_blocks * 2 : 1024;
		void *b = tp_realloc(w->blocks,
				     (size_t)w->cap_blocks * sizeof(*w->blocks),
				     (size_t)c * sizeof(*w->blocks));
		if (!b) {
			fail(w, ENOMEM, "compressing");
			w->nblk = 0;
			return;
		}
		w->blocks = b;
		w->cap_blocks = c;
	}
	size_t z = ZSTD_compressCCtx(w->zc, w->zbuf, w->zcap, w->blk, w->nblk,
				     1);
	if (ZSTD_isError(z)) {
		fail(w, EIO, "compressing");
		w->nblk = 0;
		return;
	}
	w->blocks[w->nblocks++] = (struct tp_idx_block){w->blk_start,
							 w->fbytes};
	emit_file(w, w->zbuf, z);
	w->blk_start += w->nblk;
	w->nblk = 0;
}

/* Bytes of the segment's pcap: into the file, or into the block. */
static void emit(struct tp_store_writer *w, const void *p, size_t n)
{
	w->off += n;
	if (!w->zstd) {
		emit_file(w, p, n);
		return;
	}
	memcpy(w->blk + w->nblk, p, n);
	w->nblk += n;
}

struct tp_store_writer *tp_store_writer_new(const struct tp_config *cfg,
					    unsigned front,
					    struct tp_sessions *sessions)
{
	if (mkdir(cfg->store_dir, 0755) < 0 && errno != EEXIST) {
		int e = errno;
		tp_log_error("store: cannot create %s: %s", cfg->store_dir,
			     strerror(e));
		errno = e;
		return NULL;
	}
	/* The first front recovers what a killed writer left; the others
	 * start after it (fronts are made one after the other). */
	if (front == 0)
		tp_store_recover(cfg->store_dir, sessions, NULL);
	struct tp_store_writer *w = tp_calloc(1, sizeof(*w));
	if (!w)
		goto nomem;
	w->cfg = cfg;
	w->sessions = sessions;
	w->front = front;
	w->fd = -1;
	w->buf = tp_calloc_aligned(BLOCK, BUF_SIZE);
	if (!w->buf || tp_idx_builder_init(&w->b) < 0)
		goto nomem;
	if (cfg->store_compress == TP_STORE_COMPRESS_ZSTD) {
		w->zstd = true;
		w->zc = ZSTD_createCCtx();
		w->blk = tp_malloc(ZBLOCK_CAP);
		w->zcap = ZSTD_compressBound(ZBLOCK_CAP);
		w->zbuf = tp_malloc(w->zcap);
		if (!w->zc || !w->blk || !w->zbuf)
			goto nomem;
	}
	return w;
nomem:
	tp_log_error("store: out of memory");
	tp_store_writer_free(w);
	errno = ENOMEM;
	return NULL;
}

static void open_segment(struct tp_store_writer *w, uint64_t ts_ns,
			 uint32_t linktype)
{
	const char *dir = w->cfg->store_dir;
	char base[128];
	snprintf(base, sizeof(base), TP_STORE_SEG_PREFIX "%020" PRIu64
		 "-f%u-%ld-%u", ts_ns, w->front, (long)getpid(), w->seq++);
	snprintf(w->tmp, sizeof(w->tmp), "%s/.%s%s.tmp", dir, base,
		 w->zstd ? TP_STORE_ZSEG_SUFFIX : TP_STORE_SEG_SUFFIX);
	snprintf(w->final, sizeof(w->final), "%s/%s", dir, base);
	int fl = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
	w->direct = true;
	w->fd = open(w->tmp, fl | O_DIRECT, 0644);
	if (w->fd < 0 && errno == EINVAL) {
		w->direct = false;
		w->fd = open(w->tmp, fl, 0644);
	}
	if (w->fd < 0) {
		fail(w, errno, "creating");
		return;
	}
	w->linktype = linktype;
	w->first_ns = ts_ns;
	w->opened_wall = wall_ns();
	w->since_wall = 0;
	w->off = 0;
	w->fbytes = 0;
	w->nblk = 0;
	w->blk_start = 0;
	w->nblocks = 0;
	w->flushed = 0;
	w->nbuf = 0;
	tp_idx_builder_reset(&w->b);

	uint8_t h[24];
	tp_le_put32(h, 0xa1b23c4d);         /* nanosecond pcap */
	tp_le_put16(h + 4, 2);
	tp_le_put16(h + 6, 4);
	tp_le_put32(h + 8, 0);
	tp_le_put32(h + 12, 0);
	tp_le_put32(h + 16, SNAPLEN);
	tp_le_put32(h + 20, linktype);
	emit(w, h, sizeof(h));
}

/* Close the open segment: flush, rename into view, then its index (a
 * query skips a segment whose index is not there yet), then the
 * manifest. */
static void close_segment(struct tp_store_writer *w)
{
	if (w->fd < 0)
		return;
	if (w->zstd) {
		end_block(w);
		if (w->nblocks)
			w->blocks[w->nblocks++] = (struct tp_idx_block){
				w->off, w->fbytes};
	}
	flush_buf(w, true);
	if (close(w->fd) < 0)
		fail(w, errno, "closing");
	w->fd = -1;
	char fin[4400], ipath[4400];
	snprintf(fin, sizeof(fin), "%s%s", w->final,
		 w->zstd ? TP_STORE_ZSEG_SUFFIX : TP_STORE_SEG_SUFFIX);
	if (rename(w->tmp, fin) < 0) {
		fail(w, errno, "renaming");
		return;
	}
	w->segments++;
	struct tp_index ix;
	int r = tp_idx_builder_finish(&w->b, w->sessions, w->off, w->linktype,
				      &ix);
	if (r == 0) {
		ix.nblocks = w->zstd ? w->nblocks : 0;
		ix.blocks = w->zstd ? w->blocks : NULL;
		snprintf(ipath, sizeof(ipath), "%s" TP_STORE_IDX_SUFFIX,
			 w->final);
		r = tp_index_write(&ix, ipath);
		if (r == 0) {
			const char *base = strrchr(fin, '/');
			r = tp_manifest_add(w->cfg->store_dir,
					    base ? base + 1 : fin, &ix);
			if (r < 0)
				fail(w, -r, "entering in the manifest");
			r = 0;
		}
	}
	if (r < 0)
		fail(w, -r, "writing the index of");
}

static uint32_t store_linktype(const struct tp_pkt *p)
{
	if (p->first)
		return LINKTYPE_RAW;
	/* libpcap's DLT_RAW values (12, 14 on some systems) are
	 * LINKTYPE_RAW in a file. */
	if (p->linktype == 12 || p->linktype == 14)
		return LINKTYPE_RAW;
	return p->linktype;
}

static uint16_t ip_csum(const uint8_t *h, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i < n; i += 2)
		s += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The outer IP + UDP header a socket took away; returns its length. */
static uint32_t outer_header(const struct tp_pkt *p, uint32_t caplen,
			     uint8_t *h)
{
	uint32_t udp_len = caplen + 8;
	uint8_t *u;
	uint32_t n;
	memset(h, 0, 48);
	if (p->outer_ipver == 6) {
		h[0] = 0x60;
		h[4] = (uint8_t)(udp_len >> 8);
		h[5] = (uint8_t)udp_len;
		h[6] = 17;
		h[7] = 64;
		memcpy(h + 8, p->outer_src.b, 16);
		memcpy(h + 24, p->outer_dst.b, 16);
		u = h + 40;
		n = 48;
	} else {
		uint32_t tot = udp_len + 20;
		h[0] = 0x45;
		h[2] = (uint8_t)(tot >> 8);
		h[3] = (uint8_t)tot;
		h[8] = 64;
		h[9] = 17;
		memcpy(h + 12, p->outer_src.b + 12, 4);
		memcpy(h + 16, p->outer_dst.b + 12, 4);
		uint16_t c = ip_csum(h, 20);
		h[10] = (uint8_t)(c >> 8);
		h[11] = (uint8_t)c;
		u = h + 20;
		n = 28;
	}
	u[0] = (uint8_t)(p->outer_sport >> 8);
	u[1] = (uint8_t)p->outer_sport;
	u[2] = (uint8_t)(p->outer_dport >> 8);
	u[3] = (uint8_t)p->outer_dport;
	u[4] = (uint8_t)(udp_len >> 8);
	u[5] = (uint8_t)udp_len;
	return n;
}

/* Close the segment when it is old by the wall clock: what it holds
 * becomes searchable. */
static void check_wall(struct tp_store_writer *w)
{
	w->since_wall = 0;
	if (w->fd >= 0 && wall_ns() - w->opened_wall >= w->cfg->store_publish_ns)
		close_segment(w);
}

void tp_store_tick(struct tp_store_writer *w, uint64_t now_ns)
{
	if (w->fd >= 0 && now_ns > w->first_ns &&
	    now_ns - w->first_ns >= w->cfg->store_segment_age_ns)
		close_segment(w);
	check_wall(w);
}

void tp_store_packet(struct tp_store_writer *w, const uint8_t *raw,
		     uint32_t caplen, const struct tp_pkt *p,
		     const struct tp_store_meta *m)
{
	uint8_t outer[48];
	uint32_t nouter = p->first ? outer_header(p, caplen, outer) : 0;
	uint32_t lt = store_linktype(p);
	uint64_t rec = 16 + (uint64_t)nouter + caplen;

	if (++w->since_wall == WALL_EVERY)
		check_wall(w);
	if (w->fd >= 0 &&
	    (lt != w->linktype || w->b.npkts == UINT32_MAX - 1 ||
	     w->off + rec > w->cfg->store_segment_size ||
	     (p->ts_ns > w->first_ns &&
	      p->ts_ns - w->first_ns >= w->cfg->store_segment_age_ns)))
		close_segment(w);
	if (w->fd < 0)
		open_segment(w, p->ts_ns, lt);
	if (w->fd < 0)
		return;
	if (w->zstd) {
		if (rec > ZBLOCK_CAP) {
			fail(w, EMSGSIZE, "storing a frame too large for a "
			     "compressed block in");
			return;
		}
		if (w->nblk + rec > ZBLOCK_CAP)
			end_block(w);
	}
	if (tp_idx_builder_add(&w->b, w->off, p, m) < 0)
		fail(w, ENOMEM, "indexing");

	uint8_t h[16];
	uint32_t wire = p->wirelen < caplen ? caplen : p->wirelen;
	tp_le_put32(h, (uint32_t)(p->ts_ns / 1000000000ull));
	tp_le_put32(h + 4, (uint32_t)(p->ts_ns % 1000000000ull));
	tp_le_put32(h + 8, nouter + caplen);
	tp_le_put32(h + 12, p->first ? wire + nouter : wire);
	emit(w, h, sizeof(h));
	if (nouter)
		emit(w, outer, nouter);
	emit(w, raw, caplen);
	if (w->zstd && w->nblk >= ZBLOCK)
		end_block(w);
	if (p->ts_ns < w->first_ns)
		w->first_ns = p->ts_ns;
	w->packets++;
	w->bytes += rec;
}

void tp_store_stats(const struct tp_store_writer *w, struct tp_store_stats *st)
{
	st->packets = __atomic_load_n(&w->packets, __ATOMIC_RELAXED);
	st->bytes = __atomic_load_n(&w->bytes, __ATOMIC_RELAXED);
	st->segments = __atomic_load_n(&w->segments, __ATOMIC_RELAXED);
	st->errors = __atomic_load_n(&w->errors, __ATOMIC_RELAXED);
}

size_t tp_store_seg_base(const char *name)
{
	size_t n = strlen(name), pl = strlen(TP_STORE_SEG_PREFIX);
	if (strncmp(name, TP_STORE_SEG_PREFIX, pl))
		return 0;
	const char *suf[] = {TP_STORE_SEG_SUFFIX, TP_STORE_ZSEG_SUFFIX};
	for (int i = 0; i < 2; i++) {
		size_t k = strlen(suf[i]);
		if (n > pl + k && !strcmp(name + n - k, suf[i]))
			return n - k;
	}
	return 0;
}

uint64_t tp_store_packets(const struct tp_store_writer *w)
{
	return w->packets;
}

uint64_t tp_store_errors(const struct tp_store_writer *w)
{
	return w->errors;
}

int tp_store_writer_free(struct tp_store_writer *w)
{
	if (!w)
		return 0;
	close_segment(w);
	int rc = w->first_err;
	tp_free(w->buf, BUF_SIZE);
	tp_idx_builder_fini(&w->b);
	ZSTD_freeCCtx(w->zc);
	tp_free(w->blk, ZBLOCK_CAP);
	tp_free(w->zbuf, w->zcap);
	tp_free(w->blocks, (size_t)w->cap_blocks * sizeof(*w->blocks));
	tp_free(w, sizeof(*w));
	return rc;
}
