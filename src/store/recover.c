/* Crash recovery: see recover.h.  A writer that dies leaves
 *
 *   .seg-….pcap.tmp   the open segment: every complete record is kept, a
 *                     partial last record cut off, the file renamed to
 *                     seg-….pcap and indexed;
 *   seg-….pcap        without seg-….idx (killed between the two renames),
 *                     or with an index that does not read back: the index
 *                     is rebuilt from the segment's records;
 *   .seg-….idx.tmp    a half-written index, and .manifest.tmp: removed;
 *   .del-…            what retention was deleting: removed (its index is
 *                     never rebuilt).
 *
 * A rebuilt index is the one the writer would have written, except that
 * session numbers are those of this run's session table. */
#include "store/recover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zstd.h>

#include "decode/decode.h"
#include "decode/defrag.h"
#include "flow/conn.h"
#include "flow/flow.h"
#include "mirror/session.h"
#include "store/build.h"
#include "store/manifest.h"
#include "store/store.h"
#include "util/log.h"
#include "store/le.h"
#include "util/mem.h"

#define MAX_REC (262144u + 64u)
#define RD_BUF (4u << 20)
/* The largest block a zstd segment's frame may hold (segment.c writes
 * at most 64 KiB + 512 KiB). */
#define ZBLOCK_MAX (1u << 20)

/* The pid in a segment's name ("seg-<ns>-f<front>-<pid>-<n>…"), or 0. */
static long name_pid(const char *base)
{
	unsigned long long ns;
	unsigned front, n;
	long pid;
	if (base[0] == '.')
		base++;
	if (sscanf(base, TP_STORE_SEG_PREFIX "%llu-f%u-%ld-%u", &ns, &front,
		   &pid, &n) != 4)
		return 0;
	return pid;
}

static bool alive(long pid)
{
	if (pid <= 0)
		return false;
	if (pid == (long)getpid())
		return true;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static bool is_transport(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 1 || proto == 58 ||
	       proto == 132;
}

struct rebuild {
	ZSTD_DCtx *dc;
	uint8_t *zin, *blk;
	struct tp_idx_block *blocks;
	uint32_t nblocks, cap_blocks;
	struct tp_dec dec;
	struct tp_decode_cfg dcfg;
	struct tp_pkt *pkt;
	struct tp_idx_builder b;
	uint8_t *buf;
};

/* Index the record at off (header h, caplen bytes after it) as the
 * front would have. */
static void index_record(struct rebuild *r, struct tp_sessions *ss,
			 const uint8_t *h, uint32_t caplen, uint64_t off,
			 uint32_t linktype)
{
	struct tp_pkt *p = r->pkt;
	tp_pkt_reset(p);
	p->data = h + 16;
	p->caplen = caplen;
	p->wirelen = tp_le_get32(h + 12);
	p->ts_ns = (uint64_t)tp_le_get32(h) * 1000000000ull + tp_le_get32(h + 4);
	p->linktype = linktype;
	enum tp_dec_rc rc = tp_decode(&r->dec, p);
	uint32_t sid = tp_session_of(ss, p);
	struct tp_session *se = tp_session_get(ss, sid);
	struct tp_flow_key key;
	uint8_t side;
	struct tp_store_meta m = {.session = sid, .key = &key};
	if (p->ipver) {
		uint16_t sp = 0, dp = 0;
		bool flowed = !((is_transport(p->proto) && !p->l4) ||
				(rc != TP_DEC_OK && !p->l4));
		if (flowed && (p->proto == 1 || p->proto == 58)) {
			bool one_way;
			tp_icmp_ports(p->ipver, (uint8_t)p->sport,
				      (uint8_t)p->dport, &sp, &dp, &one_way);
		} else if (flowed && is_transport(p->proto)) {
			sp = p->sport;
			dp = p->dport;
		}
		m.has_flow = true;
		m.ports_known = flowed;
		m.hash = tp_flow_key_make(&key, &side, &p->src, sp, &p->dst,
					  dp, p->proto, p->ipver,
					  se ? se->zone : 0);
	}
	tp_idx_builder_add(&r->b, off, p, &m);
}

/* Index the frames of a zstd segment: each frame one block of whole
 * records.  *good is the end of the last whole frame, *raw the pcap
 * bytes they hold; the block table is left in r.  0 or -errno. */
static int scan_zstd(struct rebuild *r, int fd, uint64_t size,
		     struct tp_sessions *ss, uint32_t *linktype,
		     uint64_t *good, uint64_t *raw)
{
	size_t zmax = ZSTD_compressBound(ZBLOCK_MAX);
	uint64_t z = 0, rs = 0;
	r->nblocks = 0;
	*good = *raw = 0;
	while (z < size) {
		size_t want = size - z < zmax ? (size_t)(size - z) : zmax;
		ssize_t got = pread(fd, r->zin, want, (off_t)z);
		if (got <= 0)
			break;
		size_t fl = ZSTD_findFrameCompressedSize(r->zin, (size_t)got);
		if (ZSTD_isError(fl))
			break;       /* a frame cut short */
		size_t bl = ZSTD_decompressDCtx(r->dc, r->blk, ZBLOCK_MAX,
						r->zin, fl);
		if (ZSTD_isError(bl))
			break;
		size_t at = 0;
		if (rs == 0) {
			if (bl < 24 || tp_le_get32(r->blk) != 0xa1b23c4d)
				return -EINVAL;
			*linktype = tp_le_get32(r->blk + 20);
			at = 24;
		}
		/* Records may not cross the block's end. */
		size_t end = at;
		while (end + 16 <= bl) {
			uint32_t cl = tp_le_get32(r->blk + end + 8);
			if (cl > MAX_REC || bl - end - 16 < cl)
				break;
			end += 16 + (size_t)cl;
		}
		if (end != bl)
			break;
		if (r->nblocks + 1 >= r->cap_blocks) {
			uint32_t c = r->cap_blocks ? r->cap_blocks * 2 : 1024;
			void *b = tp_realloc(r->blocks, (size_t)r->cap_blocks *
					     sizeof(*r->blocks),
					     (size_t)c * sizeof(*r->blocks));
			if (!b)
				return -ENOMEM;
			r->blocks = b;
			r->cap_blocks = c;
		}
		r->blocks[r->nblocks++] = (struct tp_idx_block){rs, z};
		while (at < bl) {
			uint32_t cl = tp_le_get32(r->blk + at + 8);
			index_record(r, ss, r->blk + at, cl, rs + at, *linktype);
			at += 16 + (size_t)cl;
		}
		rs += bl;
		z += fl;
		*good = z;
		*raw = rs;
	}
	if (r->nblocks)
		r->blocks[r->nblocks++] = (struct tp_idx_block){rs, z};
	return rs ? 0 : -EINVAL;
}

/* Index the records of path from offset 24 on as the front would have;
 * *good is the end of the last complete record.  0 or -errno. */
static int scan(struct rebuild *r, const char *path, bool zstd,
		struct tp_sessions *ss, uint32_t *linktype, uint64_t *good,
		uint64_t *size, uint64_t *raw)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	*size = (uint64_t)st.st_size;
	*good = 0;
	tp_idx_builder_reset(&r->b);
	r->nblocks = 0;
	if (zstd) {
		int rc = scan_zstd(r, fd, *size, ss, linktype, good, raw);
		close(fd);
		return rc;
	}
	uint8_t fh[24];
	if (pread(fd, fh, 24, 0) != 24 || tp_le_get32(fh) != 0xa1b23c4d) {
		close(fd);
		return -EINVAL;
	}
	*linktype = tp_le_get32(fh + 20);
	*good = 24;
	tp_idx_builder_reset(&r->b);
	/* Records are read through a window of RD_BUF bytes. */
	uint64_t base = 24;
	size_t have = 0, at = 0;
	for (;;) {
		if (have - at < 16 + MAX_REC && base + have < *size) {
			memmove(r->buf, r->buf + at, have - at);
			base += at;
			have -= at;
			at = 0;
			ssize_t n = pread(fd, r->buf + have, RD_BUF - have,
					  (off_t)(base + have));
			if (n < 0) {
				int e = errno;
				close(fd);
				return -e;
			}
			have += (size_t)n;
		}
		if (have - at < 16)
			break;
		const uint8_t *h = r->buf + at;
		uint32_t caplen = tp_le_get32(h + 8);
		if (caplen > MAX_REC || have - at < 16 + (size_t)caplen)
			break;
		index_record(r, ss, h, caplen, base + at, *linktype);
		at += 16 + caplen;
		*good = base + at;
	}
	close(fd);
	*raw = *good;
	return 0;
}

static int rebuild_index(struct rebuild *r, const char *seg,
			 struct tp_sessions *ss, bool cut,
			 struct tp_recover_result *res)
{
	uint32_t lt = 0;
	uint64_t good = 0, size = 0, raw = 0;
	const char *slash = strrchr(seg, '/');
	size_t bl = tp_store_seg_base(slash + 1);
	bool zstd = !strcmp(slash + 1 + bl, TP_STORE_ZSEG_SUFFIX);
	int rc = scan(r, seg, zstd, ss, &lt, &good, &size, &raw);
	if (rc == -EINVAL && (size < 24 || (zstd && good == 0))) {
		tp_log_warn("store: %s holds no complete %s; removed", seg,
			    zstd ? "block" : "pcap header");
		unlink(seg);
		res->removed++;
		return rc;
	}
	if (rc < 0) {
		tp_log_warn("store: %s cannot be recovered: %s; left as it is",
			    seg, strerror(-rc));
		return rc;
	}
	if (good < size) {
		if (!cut) {
			tp_log_warn("store: %s: %llu bytes after its last "
				    "complete record are not indexed", seg,
				    (unsigned long long)(size - good));
		} else if (truncate(seg, (off_t)good) == 0) {
			res->cut += size - good;
		} else {
			tp_log_warn("store: cannot cut %s to its complete "
				    "records: %s", seg, strerror(errno));
			return -errno;
		}
	}
	struct tp_index ix;
	if ((rc = tp_idx_builder_finish(&r->b, ss, raw, lt, &ix)) < 0)
		return rc;
	ix.nblocks = zstd ? r->nblocks : 0;
	ix.blocks = zstd ? r->blocks : NULL;
	char ipath[4400];
	size_t n = (size_t)(slash + 1 - seg) + bl;
	snprintf(ipath, sizeof(ipath), "%.*s" TP_STORE_IDX_SUFFIX, (int)n, seg);
	rc = tp_index_write(&ix, ipath);
	if (rc == 0) {
		char dir[4400];
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - seg), seg);
		if (tp_manifest_add(dir, slash + 1, &ix) < 0)
			tp_log_warn("store: %s not entered in the manifest "
				    "(queries read its index)", seg);
		res->indexes++;
	} else {
		tp_log_warn("store: cannot write %s: %s", ipath, strerror(-rc));
	}
	return rc;
}

static bool ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);
	return n >= k && !strcmp(s + n - k, suf);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void tp_store_recover(const char *dir, struct tp_sessions *ss,
		      struct tp_recover_result *out)
{
	struct tp_recover_result res = {0};
	struct rebuild r = {0};
	bool ready = false;
	char **names = NULL;
	size_t nn = 0, cap = 0;
	DIR *d = opendir(dir);
	if (!d)
		goto out;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (nn == cap) {
			size_t nc = cap ? cap * 2 : 256;
			char **v = realloc(names, nc * sizeof(*v));
			if (!v)
				break;
			names = v;
			cap = nc;
		}
		if (!(names[nn] = strdup(de->d_name)))
			break;
		nn++;
	}
	closedir(d);
	if (nn)
		qsort(names, nn, sizeof(*names), cmp_str);

	char path[4400], fin[4400];
	for (size_t i = 0; i < nn; i++) {
		const char *nm = names[i];
		snprintf(path, sizeof(path), "%s/%s", dir, nm);
		if (!strncmp(nm, ".del-", 5)) {
			if (unlink(path) == 0) {
				res.removed++;
				tp_log_warn("store: removed %s, left by an "
					    "interrupted deletion", path);
			}
			continue;
		}
		bool seg_tmp = nm[0] == '.' &&
			       !strncmp(nm + 1, TP_STORE_SEG_PREFIX, 4) &&
			       (ends_with(nm, TP_STORE_SEG_SUFFIX ".tmp") ||
				ends_with(nm, TP_STORE_ZSEG_SUFFIX ".tmp"));
		bool idx_tmp = nm[0] == '.' && ends_with(nm, ".idx.tmp");
		bool seg = tp_store_seg_base(nm) != 0;
		if (!seg_tmp && !idx_tmp && !seg)
			continue;
		if (alive(name_pid(nm)))
			continue;
		if (idx_tmp) {
			if (unlink(path) == 0) {
				res.removed++;
				tp_log_warn("store: removed the half-written "
					    "index %s", path);
			}
			continue;
		}
		if (seg) {
			char ipath[4400];
			struct tp_index ix;
			char err[300];
			size_t k = strlen(dir) + 1 + tp_store_seg_base(nm);
			snprintf(ipath, sizeof(ipath), "%.*s" TP_STORE_IDX_SUFFIX,
				 (int)k, path);
			int rc = tp_index_load(&ix, ipath, err, sizeof(err));
			tp_index_free(&ix);
			if (rc == 0 || (rc != -ENOENT && rc != -EINVAL))
				continue;
			tp_log_warn("store: %s: %s; rebuilding it", ipath,
				    rc == -ENOENT ? "missing" : err);
		}
		if (!ready) {
			tp_decode_cfg_default(&r.dcfg);
			r.pkt = tp_calloc_aligned(64, sizeof(*r.pkt));
			r.buf = tp_malloc(RD_BUF);
			if (!r.pkt || !r.buf || tp_idx_builder_init(&r.b) < 0 ||
			    !(r.dc = ZSTD_createDCtx()) ||
			    !(r.zin = tp_malloc(ZSTD_compressBound(ZBLOCK_MAX))) ||
			    !(r.blk = tp_malloc(ZBLOCK_MAX)) ||
			    tp_dec_init(&r.dec, &r.dcfg) < 0) {
				tp_log_error("store: out of memory recovering %s",
					     dir);
				goto out;
			}
			/* Stored frames are indexed one by one, as the
			 * query matches them. */
			tp_defrag_free(r.dec.defrag);
			r.dec.defrag = NULL;
			ready = true;
		}
		if (seg) {
			rebuild_index(&r, path, ss, false, &res);
			continue;
		}
		/* ".seg-X.pcap.tmp" -> "seg-X.pcap" */
		snprintf(fin, sizeof(fin), "%s/%.*s", dir,
			 (int)(strlen(nm) - 5), nm + 1);
		unsigned long long cut0 = res.cut;
		unsigned ix0 = res.indexes;
		if (rename(path, fin) < 0) {
			tp_log_warn("store: cannot rename %s: %s", path,
				    strerror(errno));
			continue;
		}
		if (rebuild_index(&r, fin, ss, true, &res) == 0 &&
		    res.indexes > ix0) {
			res.segments++;
			tp_log_warn("store: recovered %s as %s (%llu bytes of a "
				    "partial record cut), index rebuilt", path,
				    fin, res.cut - cut0);
		}
	}
	/* A manifest rewrite that was cut short. */
	snprintf(path, sizeof(path), "%s/" TP_MANIFEST_NAME ".lock", dir);
	int lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) == 0) {
		snprintf(path, sizeof(path), "%s/." TP_MANIFEST_NAME ".tmp", dir);
		if (unlink(path) == 0)
			res.removed++;
		flock(lfd, LOCK_UN);
	}
	if (lfd >= 0)
		close(lfd);
	if (res.segments || res.indexes || res.removed)
		tp_log_warn("store: recovery of %s: %u segments completed, %u "
			    "indexes rebuilt, %u leftovers removed, %llu bytes "
			    "of partial records cut", dir, res.segments,
			    res.indexes, res.removed, res.cut);
out:
	if (ready) {
		tp_dec_fini(&r.dec);
		tp_idx_builder_fini(&r.b);
	}
	tp_free(r.pkt, sizeof(*r.pkt));
	tp_free(r.buf, RD_BUF);
	ZSTD_freeDCtx(r.dc);
	tp_free(r.zin, ZSTD_compressBound(ZBLOCK_MAX));
	tp_free(r.blk, ZBLOCK_MAX);
	tp_free(r.blocks, (size_t)r.cap_blocks * sizeof(*r.blocks));
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	if (out)
		*out = res;
}
