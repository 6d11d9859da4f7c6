/* Capture files: pcap and pcapng, plain or gzip-compressed (detected by
 * magic, not by name), from a path or "-" for stdin.
 *
 * A classic pcap in a regular file is mapped and walked in place: no copy
 * and no library call per packet.  Its record header:
 *
 *  +---------------+---------------+---------------+---------------+
 *  |                 timestamp seconds                             |
 *  |          timestamp microseconds (nanoseconds: a1b23c4d)       |
 *  |                 captured length                               |
 *  |                 original length                               |
 *  +---------------+---------------+---------------+---------------+
 *
 * Everything else (pcapng, compressed, pipes) goes through libpcap over a
 * cookie stream that counts bytes for progress. */
#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "capture/source.h"
#include "util/mem.h"

/* Largest record accepted from a mapped file (libpcap allows 256 KiB for
 * most link types; BIG TCP super-packets need more). */
#define MAX_RECORD (16u << 20)

struct pf {
	/* mapped classic pcap */
	const uint8_t *map;
	size_t map_len, off;
	size_t dropped;   /* mapped bytes below this were released */
	bool swapped;
	/* libpcap */
	pcap_t *pcap;
	FILE *raw;        /* the file as opened */
	z_stream *z;      /* when gzip-compressed */
	unsigned char *zin;
	FILE *stream;     /* what libpcap reads */
	struct tp_source *src;
	int linktype;
	int nsec;
};

#define ZIN_SIZE (1u << 17)

/* gzip through inflate over the stdio stream, so that pipes work and the
 * peeked magic bytes are not lost; concatenated members are read on. */
static ssize_t gz_read(void *cookie, char *buf, size_t n)
{
	struct pf *pf = cookie;
	z_stream *z = pf->z;

	z->next_out = (unsigned char *)buf;
	z->avail_out = (uInt)(n > (1u << 30) ? 1u << 30 : n);
	while (z->avail_out > 0) {
		if (z->avail_in == 0) {
			size_t r = fread(pf->zin, 1, ZIN_SIZE, pf->raw);
			if (r == 0)
				break;
			pf->src->bytes_read += r;
			z->next_in = pf->zin;
			z->avail_in = (uInt)r;
		}
		int rc = inflate(z, Z_NO_FLUSH);
		if (rc == Z_STREAM_END) {
			if (inflateReset(z) != Z_OK)
				break;
		} else if (rc != Z_OK && rc != Z_BUF_ERROR) {
			errno = EIO;
			return -1;
		} else if (rc == Z_BUF_ERROR && z->avail_in == 0 &&
			   feof(pf->raw)) {
			break;
		}
	}
	return (ssize_t)((char *)z->next_out - buf);
}

static ssize_t plain_read(void *cookie, char *buf, size_t n)
{
	struct pf *pf = cookie;
	size_t r = fread(buf, 1, n, pf->raw);
	if (r == 0 && ferror(pf->raw)) {
		errno = EIO;
		return -1;
	}
	pf->src->bytes_read += r;
	return (ssize_t)r;
}

static int plain_close(void *cookie)
{
	(void)cookie;
	return 0;
}

static uint32_t rd32(const struct pf *pf, const uint8_t *q)
{
	uint32_t v;
	memcpy(&v, q, 4);
	return pf->swapped ? __builtin_bswap32(v) : v;
}

/* Map fd when it is a regular file holding a classic pcap; the descriptor
 * is closed on success (the mapping keeps the file). */
static bool try_map(struct pf *pf, int fd, struct tp_source *s)
{
	struct stat st;
	uint32_t magic;
	void *m;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 24)
		return false;
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return false;
	memcpy(&magic, m, 4);
	if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
		pf->swapped = false;
	} else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
		pf->swapped = true;
		magic = __builtin_bswap32(magic);
	} else {
		munmap(m, (size_t)st.st_size);
		return false;
	}
	pf->map = m;
	pf->map_len = (size_t)st.st_size;
	pf->off = 24;
	pf->nsec = magic == 0xa1b23c4d;
	/* LINKTYPE in the low 28 bits; the rest is FCS information. */
	int lt = (int)(rd32(pf, pf->map + 20) & 0x0fffffff);
	pf->linktype = lt; /* the decode loop knows LINKTYPE_RAW and friends */
	madvise(m, pf->map_len, MADV_SEQUENTIAL);
	close(fd);
	s->bytes_read = 24;
	return true;
}

static int map_next(struct tp_source *s, struct pf *pf, struct tp_pkt *p,
		    char *err, size_t errlen)
{
	size_t left = pf->map_len - pf->off;
	if (left == 0)
		return 0;
	if (left < 16) {
		snprintf(err, errlen,
			 "%s: corrupt capture after %llu packets: truncated "
			 "record header (%zu of 16 bytes)",
			 s->spec, (unsigned long long)s->frames, left);
		return -EINVAL;
	}
	const uint8_t *h = pf->map + pf->off;
	uint32_t sec = rd32(pf, h), frac = rd32(pf, h + 4);
	uint32_t caplen = rd32(pf, h + 8), len = rd32(pf, h + 12);
	if (caplen > MAX_RECORD || caplen > left - 16) {
		snprintf(err, errlen,
			 "%s: corrupt capture after %llu packets: record of "
			 "%u bytes with %zu left in the file",
			 s->spec, (unsigned long long)s->frames, caplen,
			 left - 16);
		return -EINVAL;
	}
	p->data = h + 16;
	p->caplen = caplen;
	p->wirelen = len < caplen ? caplen : len;
	p->ts_ns = (uint64_t)sec * 1000000000ull +
		   (pf->nsec ? (uint64_t)frac : (uint64_t)frac * 1000ull);
	p->linktype = (uint32_t)pf->linktype;
	pf->off += 16 + (size_t)caplen;
	s->bytes_read = pf->off;
	/* Release what lies well behind: the mapping would otherwise count
	 * the whole file in the resident set.  The current packet stays. */
	if (pf->off - pf->dropped > (64u << 20) + (32u << 20)) {
		size_t upto = (pf->off - (32u << 20)) & ~(size_t)0xfffff;
		madvise((void *)(pf->map + pf->dropped), upto - pf->dropped,
			MADV_DONTNEED);
		pf->dropped = upto;
	}
	s->frames++;
	return 1;
}

static int pf_open(struct tp_source *s, const char *spec, char *err,
		   size_t errlen)
{
	struct pf *pf = tp_calloc(1, sizeof(*pf));
	char perr[PCAP_ERRBUF_SIZE];
	unsigned char magic[2] = {0, 0};
	int fd;

	if (!pf)
		return -ENOMEM;
	pf->src = s;
	s->priv = pf;
	s->spec = spec;
	if (strcmp(spec, "-") == 0) {
		fd = dup(STDIN_FILENO);
	} else {
		fd = open(spec, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", spec,
			 strerror(errno));
		return -errno;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		s->bytes_total = (uint64_t)st.st_size;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "%s is a directory, not a capture file",
			 spec);
		return -EISDIR;
	}
	if (try_map(pf, fd, s))
		return 0;
	pf->raw = fdopen(fd, "rb");
	if (!pf->raw) {
		close(fd);
		snprintf(err, errlen, "cannot open %s: %s", spec,
			 strerror(errno));
		return -errno;
	}
	/* Peek at the magic without losing it on a pipe. */
	int c0 = fgetc(pf->raw), c1 = c0 == EOF ? EOF : fgetc(pf->raw);
	if (c1 != EOF)
		ungetc(c1, pf->raw);
	if (c0 != EOF)
		ungetc(c0, pf->raw);
	magic[0] = (unsigned char)c0;
	magic[1] = (unsigned char)c1;
	if (c0 == EOF) {
		snprintf(err, errlen, "%s is empty, not a capture file", spec);
		return -EINVAL;
	}

	cookie_io_functions_t io = {.read = plain_read, .close = plain_close};
	if (magic[0] == 0x1f && magic[1] == 0x8b) {
		pf->z = tp_calloc(1, sizeof(*pf->z));
		pf->zin = tp_malloc(ZIN_SIZE);
		if (!pf->z || !pf->zin ||
		    inflateInit2(pf->z, 15 + 32) != Z_OK) {
			snprintf(err, errlen, "%s: cannot start gzip decoding",
				 spec);
			return -ENOMEM;
		}
		io.read = gz_read;
	}
	pf->stream = fopencookie(pf, "rb", io);
	if (!pf->stream) {
		snprintf(err, errlen, "%s: %s", spec, strerror(errno));
		return -errno;
	}
	setvbuf(pf->stream, NULL, _IOFBF, 1 << 18);
	pf->pcap = pcap_fopen_offline_with_tstamp_precision(
		pf->stream, PCAP_TSTAMP_PRECISION_NANO, perr);
	if (!pf->pcap) {
		/* libpcap closed nothing on failure; the stream is ours. */
		fclose(pf->stream);
		pf->stream = NULL;
		snprintf(err, errlen, "%s: not a pcap or pcapng capture (%s)",
			 spec, perr);
		return -EINVAL;
	}
	pf->linktype = pcap_datalink(pf->pcap);
	return 0;
}

static int pf_next(struct tp_source *s, struct tp_pkt *p, char *err,
		   size_t errlen)
{
	struct pf *pf = s->priv;
	struct pcap_pkthdr *h;
	const u_char *data;

	if (pf->map)
		return map_next(s, pf, p, err, errlen);

	int r = pcap_next_ex(pf->pcap, &h, &data);
	if (r == 1) {
		p->data = data;
		p->caplen = h->caplen;
		p->wirelen = h->len < h->caplen ? h->caplen : h->len;
		p->ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull +
			   (uint64_t)h->ts.tv_usec;
		/* pcapng may change link type per interface. */
		p->linktype = (uint32_t)pcap_datalink(pf->pcap);
		s->frames++;
		return 1;
	}
	if (r == PCAP_ERROR_BREAK)
		return 0;
	snprintf(err, errlen, "%s: corrupt capture after %llu packets: %s",
		 s->spec, (unsigned long long)s->frames,
		 pcap_geterr(pf->pcap));
	return -EINVAL;
}

static void pf_close(struct tp_source *s)
{
	struct pf *pf = s->priv;
	if (!pf)
		return;
	if (pf->map)
		munmap((void *)pf->map, pf->map_len);
	if (pf->pcap)
		pcap_close(pf->pcap); /* closes pf->stream */
	else if (pf->stream)
		fclose(pf->stream);
	if (pf->z) {
		inflateEnd(pf->z);
		tp_free(pf->z, sizeof(*pf->z));
	}
	if (pf->zin)
		tp_free(pf->zin, ZIN_SIZE);
	if (pf->raw)
		fclose(pf->raw);
	tp_free(pf, sizeof(*pf));
	s->priv = NULL;
}

const struct tp_source_ops tp_source_pcap_file = {
	.name = "pcap-file",
	.open = pf_open,
	.next = pf_next,
	.close = pf_close,
};
