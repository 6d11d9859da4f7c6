/* The pipeline end to end (src/dispatch/pipeline.c): hand-built VXLAN
 * frames of a TCP handshake, mirrored from both ends (every frame again
 * 40 us later from the second end's interface), fed frame by frame; the
 * totals and the conn.log written must show one connection, its packets
 * counted once and the copies counted as duplicates, and the same record
 * for one worker as for two. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dispatch/pipeline.h"
#include "util/config.h"

#define NS_US UINT64_C(1000)
#define NS_S UINT64_C(1000000000)
#define T0 (UINT64_C(1700000000) * NS_S)

#define OUTER_A {10, 0, 1, 10}     /* the client's interface */
#define OUTER_B {10, 0, 1, 20}     /* the server's interface */
#define CLIENT {192, 168, 1, 1}
#define SERVER {192, 168, 1, 2}
#define VNI 1000

/* Frame: Ethernet / IPv4 / UDP 4789 / VXLAN / Ethernet / IPv4 / TCP. */
#define FRAME_LEN (14 + 20 + 8 + 8 + 14 + 20 + 20)

struct frame {
	uint8_t b[FRAME_LEN];
};

static void be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	be16(p, (uint16_t)(v >> 16));
	be16(p + 2, (uint16_t)v);
}

static uint16_t csum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void ipv4(uint8_t *h, uint16_t total, uint16_t id, uint8_t ttl,
		 uint8_t proto, const uint8_t src[4], const uint8_t dst[4])
{
	h[0] = 0x45;
	h[1] = 0;
	be16(h + 2, total);
	be16(h + 4, id);
	be16(h + 6, 0x4000);            /* DF */
	h[8] = ttl;
	h[9] = proto;
	be16(h + 10, 0);
	memcpy(h + 12, src, 4);
	memcpy(h + 16, dst, 4);
	be16(h + 10, csum(h, 20, 0));
}

static void ether(uint8_t *e, uint8_t last)
{
	static const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x01};
	memcpy(e, dst, 6);
	memcpy(e + 6, dst, 6);
	e[11] = last;
	be16(e + 12, 0x0800);
}

struct tcp_seg {
	const uint8_t *src, *dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t ip_id;
};

/* seg as mirrored from the interface at outer (TTL as seen there). */
static void build(struct frame *f, const uint8_t outer[4], uint16_t outer_sport,
		  const struct tcp_seg *s, uint8_t ttl)
{
	static const uint8_t target[4] = {10, 0, 9, 9};
	uint8_t *p = f->b;
	memset(f, 0, sizeof(*f));

	ether(p, 0x10);
	ipv4(p + 14, FRAME_LEN - 14, 0x0101, 255, 17, outer, target);
	uint8_t *udp = p + 34;
	be16(udp, outer_sport);
	be16(udp + 2, 4789);
	be16(udp + 4, FRAME_LEN - 34);
	uint8_t *vx = udp + 8;
	vx[0] = 0x08;
	vx[4] = (uint8_t)(VNI >> 16);
	vx[5] = (uint8_t)(VNI >> 8);
	vx[6] = (uint8_t)VNI;
	ether(vx + 8, 0x20);

	uint8_t *ip = vx + 22;
	ipv4(ip, 40, s->ip_id, ttl, 6, s->src, s->dst);
	uint8_t *th = ip + 20;
	be16(th, s->sport);
	be16(th + 2, s->dport);
	be32(th + 4, s->seq);
	be32(th + 8, s->ack);
	th[12] = 5 << 4;
	th[13] = s->flags;
	be16(th + 14, 65535);
	/* Checksum over the pseudo-header and the segment. */
	uint32_t sum = 0;
	for (int i = 0; i < 8; i += 2)
		sum += (uint32_t)ip[12 + i] << 8 | ip[13 + i];
	sum += 6 + 20;
	be16(th + 16, csum(th, 20, sum));
}

/* Frames waiting to be fed, in the order built; fed sorted by time, as a
 * capture delivers them. */
enum { QMAX = 6 * 64 };
static struct queued {
	uint64_t ts;
	unsigned seq;
	struct frame f;
} Q[QMAX];
static unsigned nq;

static void enqueue(const struct frame *f, uint64_t ts)
{
	assert_true(nq < QMAX);
	Q[nq].ts = ts;
	Q[nq].seq = nq;
	Q[nq].f = *f;
	nq++;
}

static int cmp_queued(const void *a, const void *b)
{
	const struct queued *x = a, *y = b;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The test's configuration and output directory. */
static struct {
	struct tp_config *cfg;
	char dir[64];
	struct tp_pipeline *pl;
	char *conn;               /* conn.log as read back */
	int fifo;                 /* read end of a conn.log pipe, or -1 */
} P;

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	rmdir(dir);
}

static int setup(void **state)
{
	(void)state;
	memset(&P, 0, sizeof(P));
	P.fifo = -1;
	nq = 0;
	P.cfg = malloc(sizeof(*P.cfg));
	if (!P.cfg)
		return -1;
	tp_config_default(P.cfg);
	/* A small pool: the default million flows cost seconds to free
	 * under meson's MALLOC_PERTURB_, and these runs hold a few. */
	P.cfg->max_flows = 4096;
	snprintf(P.dir, sizeof(P.dir), "/tmp/tp-test-pipeline.XXXXXX");
	if (!mkdtemp(P.dir))
		return -1;
	snprintf(P.cfg->log_dir, sizeof(P.cfg->log_dir), "%s", P.dir);
	return 0;
}

/* The far end of a pipe, read to its end on a thread of its own. */
static void *drain(void *arg)
{
	int fd = *(int *)arg;
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n == 0)
			return NULL;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return NULL;
		if (n < 0)
			usleep(1000);
	}
}

static int teardown(void **state)
{
	(void)state;
	pthread_t th;
	/* A test that failed with its worker stalled on a pipe: read the
	 * pipe, or freeing would wait for the worker forever. */
	bool draining = P.fifo >= 0 &&
			pthread_create(&th, NULL, drain, &P.fifo) == 0;
	if (P.pl)
		tp_pipeline_free(P.pl);
	if (draining)
		pthread_join(th, NULL);
	if (P.fifo >= 0)
		close(P.fifo);
	free(P.conn);
	free(P.cfg);
	rm_dir(P.dir);
	return 0;
}

static void start(unsigned workers)
{
	char err[256] = "";
	P.cfg->workers = workers;
	P.pl = tp_pipeline_new(P.cfg, err, sizeof(err));
	if (!P.pl)
		fail_msg("tp_pipeline_new: %s", err);
}

static void feed(const struct frame *f, uint64_t ts)
{
	struct tp_pkt p;
	memset(&p, 0, sizeof(p));
	p.data = f->b;
	p.caplen = p.wirelen = FRAME_LEN;
	p.ts_ns = ts;
	p.linktype = 1;                 /* Ethernet */
	tp_pipeline_packet(P.pl, &p);
}

static void feed_all(void)
{
	qsort(Q, nq, sizeof(Q[0]), cmp_queued);
	for (unsigned i = 0; i < nq; i++)
		feed(&Q[i].f, Q[i].ts);
	nq = 0;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	char *s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

/* Finish, take the totals, free (closing the logs) and read conn.log. */
static void finish(struct tp_pipeline_totals *t)
{
	char path[128];
	feed_all();
	tp_pipeline_finish(P.pl);
	tp_pipeline_totals(P.pl, t);
	assert_int_equal(tp_pipeline_free(P.pl), 0);
	P.pl = NULL;
	snprintf(path, sizeof(path), "%s/conn.log", P.dir);
	free(P.conn);
	P.conn = read_file(path);
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Queue the handshake of client port cport, starting at t, each frame
 * mirrored from A and, `copy_delay` later, from B (copy_delay 0: A
 * only). */
static void handshake(uint16_t cport, uint64_t t, uint64_t copy_delay)
{
	static const uint8_t a[4] = OUTER_A, b[4] = OUTER_B;
	static const uint8_t cli[4] = CLIENT, srv[4] = SERVER;
	const struct tcp_seg segs[3] = {
		{cli, srv, cport, 80, 1000, 0, 0x02, 0x1111},        /* S */
		{srv, cli, 80, cport, 5000, 1001, 0x12, 0x2222},     /* SA */
		{cli, srv, cport, 80, 1001, 5001, 0x10, 0x1112},     /* A */
	};
	struct frame fa, fb;
	for (int i = 0; i < 3; i++) {
		uint64_t ts = t + (uint64_t)i * 100 * NS_US;
		/* The client's packets cross a router before B; the
		 * server's before A. */
		uint8_t ttl_a = i == 1 ? 63 : 64, ttl_b = i == 1 ? 64 : 63;
		build(&fa, a, (uint16_t)(50000 + cport), &segs[i], ttl_a);
		enqueue(&fa, ts);
		if (copy_delay) {
			build(&fb, b, (uint16_t)(60000 + cport), &segs[i],
			      ttl_b);
			enqueue(&fb, ts + copy_delay);
		}
	}
}

/* conn.log's line for that handshake, uid as written. */
static void expected_record(char *out, size_t n, const char *uid,
			    uint16_t cport, unsigned orig_pkts,
			    unsigned resp_pkts, const char *cid,
			    uint64_t first_ns)
{
	snprintf(out, n,
		 "{\"ts\":%" PRIu64 ".%06" PRIu64 ",\"uid\":\"%s\","
		 "\"id.orig_h\":\"192.168.1.1\",\"id.orig_p\":%u,"
		 "\"id.resp_h\":\"192.168.1.2\",\"id.resp_p\":80,"
		 "\"proto\":\"tcp\",\"duration\":0.000200,"
		 "\"orig_bytes\":0,\"resp_bytes\":0,\"conn_state\":\"S1\","
		 "\"missed_bytes\":0,\"history\":\"ShA\","
		 "\"orig_pkts\":%u,\"orig_ip_bytes\":%u,"
		 "\"resp_pkts\":%u,\"resp_ip_bytes\":%u,"
		 "\"ip_proto\":6,\"community_id\":\"%s\","
		 "\"vni\":1000,\"mirror_session\":\"10.0.1.10/1000\","
		 "\"zone\":\"default\",\"outer_src\":\"10.0.1.10\","
		 "\"tcp_initial_rtt\":0.000200}\n",
		 first_ns / NS_S, first_ns % NS_S / NS_US, uid, cport,
		 orig_pkts, orig_pkts * 40, resp_pkts, resp_pkts * 40, cid);
}

/* The uid of a single-record log: "C" and 17 base62 digits. */
static const char *uid_of(const char *line, char *uid)
{
	const char *p = strstr(line, "\"uid\":\"");
	assert_non_null(p);
	p += 7;
	size_t n = strcspn(p, "\"");
	assert_int_equal(n, 18);
	assert_int_equal(p[0], 'C');
	for (size_t i = 1; i < n; i++)
		assert_non_null(strchr("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "abcdefghijklmnopqrstuvwxyz", p[i]));
	memcpy(uid, p, n);
	uid[n] = '\0';
	return uid;
}

/* Community ID v1 of 192.168.1.1:40000 -> 192.168.1.2:80/tcp, seed 0,
 * from an independent implementation of the spec. */
#define CID_40000 "1:pi+VCp+j8gIY69tR6uelx0iK15I="

static char *both_sides_run(unsigned workers, struct tp_pipeline_totals *t)
{
	start(workers);
	handshake(40000, T0, 40 * NS_US);
	finish(t);
	char *conn = P.conn;
	P.conn = NULL;
	return conn;
}

static void check_both_sides(const char *conn,
			     const struct tp_pipeline_totals *t)
{
	char uid[32], want[1024];

	assert_int_equal(t->packets, 6);
	assert_int_equal(t->bytes, 6 * FRAME_LEN);
	assert_int_equal(t->ip_packets, 6);
	assert_int_equal(t->tunnelled, 6);
	assert_int_equal(t->non_ip, 0);
	assert_int_equal(t->decode_failed, 0);
	assert_int_equal(t->not_flowed, 0);
	assert_int_equal(t->truncated, 0);
	assert_int_equal(t->events, 0);
	assert_int_equal(t->duplicates, 3);
	assert_int_equal(t->dedup_evictions, 0);
	assert_int_equal(t->flows, 1);
	assert_int_equal(t->flows_evicted, 0);
	assert_int_equal(t->sessions, 2);
	assert_int_equal(t->first_ns, T0);
	assert_int_equal(t->last_ns, T0 + 240 * NS_US);

	assert_int_equal(count_lines(conn), 1);
	expected_record(want, sizeof(want), uid_of(conn, uid), 40000, 2, 1,
			CID_40000, T0);
	assert_string_equal(conn, want);
}

static void test_both_sides_one_worker(void **state)
{
	(void)state;
	struct tp_pipeline_totals t;
	char *conn = both_sides_run(1, &t);
	check_both_sides(conn, &t);
	free(conn);
}

static void test_both_sides_two_workers(void **state)
{
	(void)state;
	struct tp_pipeline_totals t1, t2;
	char *c1 = both_sides_run(1, &t1);
	rm_dir(P.dir);
	assert_non_null(mkdtemp(strcpy(P.dir, "/tmp/tp-test-pipeline.XXXXXX")));
	snprintf(P.cfg->log_dir, sizeof(P.cfg->log_dir), "%s", P.dir);
	char *c2 = both_sides_run(2, &t2);
	check_both_sides(c2, &t2);
	/* The very same record, uid included. */
	assert_string_equal(c2, c1);
	free(c1);
	free(c2);
}

static void test_one_side_no_duplicates(void **state)
{
	(void)state;
	struct tp_pipeline_totals t;
	char uid[32], want[1024];

	start(1);
	handshake(40000, T0, 0);
	finish(&t);
	assert_int_equal(t.packets, 3);
	assert_int_equal(t.duplicates, 0);
	assert_int_equal(t.sessions, 1);
	assert_int_equal(t.flows, 1);
	expected_record(want, sizeof(want), uid_of(P.conn, uid), 40000, 2, 1,
			CID_40000, T0);
	assert_string_equal(P.conn, want);
}

static void test_dedup_disabled_counts_copies(void **state)
{
	(void)state;
	struct tp_pipeline_totals t;

	P.cfg->dedup_enabled = false;
	start(1);
	handshake(40000, T0, 40 * NS_US);
	finish(&t);
	assert_int_equal(t.packets, 6);
	assert_int_equal(t.duplicates, 0);
	assert_int_equal(t.flows, 1);
	assert_int_equal(count_lines(P.conn), 1);
	/* Each copy counted: the record is not the one above. */
	assert_non_null(strstr(P.conn, "\"orig_pkts\":4,\"orig_ip_bytes\":160,"
				       "\"resp_pkts\":2,\"resp_ip_bytes\":80,"));
}

static void test_copy_past_window_not_duplicate(void **state)
{
	(void)state;
	struct tp_pipeline_totals t;

	/* The second end's copies come 6 ms late: past the 5 ms window,
	 * so they are counted as packets (here: retransmissions). */
	start(1);
	handshake(40000, T0, 6000 * NS_US);
	finish(&t);
	assert_int_equal(t.packets, 6);
	assert_int_equal(t.duplicates, 0);
	assert_non_null(strstr(P.conn, "\"orig_pkts\":4,"));
}

/* Many connections at once: the same records for 1, 2 and 3 workers. */
enum { NFLOWS = 64 };

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* conn.log's lines, sorted, joined. */
static char *sorted_lines(char *text)
{
	char *lines[NFLOWS + 1];
	unsigned n = 0;
	for (char *s = strtok(text, "\n"); s; s = strtok(NULL, "\n")) {
		assert_true(n < NFLOWS);
		lines[n++] = s;
	}
	assert_int_equal(n, NFLOWS);
	qsort(lines, n, sizeof(lines[0]), cmp_line);
	size_t len = 0;
	for (unsigned i = 0; i < n; i++)
		len += strlen(lines[i]) + 1;
	char *out = malloc(len + 1), *o = out;
	assert_non_null(out);
	for (unsigned i = 0; i < n; i++)
		o += sprintf(o, "%s\n", lines[i]);
	return out;
}

static char *many_run(unsigned workers, struct tp_pipeline_totals *t)
{
	rm_dir(P.dir);
	assert_non_null(mkdtemp(strcpy(P.dir, "/tmp/tp-test-pipeline.XXXXXX")));
	snprintf(P.cfg->log_dir, sizeof(P.cfg->log_dir), "%s", P.dir);
	start(workers);
	/* Handshakes 10 us apart, interleaved with each other. */
	for (unsigned i = 0; i < NFLOWS; i++)
		handshake((uint16_t)(41000 + i), T0 + i * 10 * NS_US,
			  40 * NS_US);
	finish(t);
	return sorted_lines(P.conn);
}

static void test_many_flows_any_worker_count(void **state)
{
	(void)state;
	struct tp_pipeline_totals t[3];
	char *out[3];
	for (unsigned w = 0; w < 3; w++) {
		out[w] = many_run(w + 1, &t[w]);
		assert_int_equal(t[w].packets, 6 * NFLOWS);
		assert_int_equal(t[w].duplicates, 3 * NFLOWS);
		assert_int_equal(t[w].flows, NFLOWS);
		assert_int_equal(t[w].sessions, 2);
	}
	/* Every record has the handshake counted once. */
	char *s = out[0];
	for (unsigned i = 0; i < NFLOWS; i++) {
		s = strstr(s, "\"history\":\"ShA\",\"orig_pkts\":2,"
			      "\"orig_ip_bytes\":80,\"resp_pkts\":1,");
		assert_non_null(s);
		s++;
	}
	assert_string_equal(out[1], out[0]);
	assert_string_equal(out[2], out[0]);
	for (unsigned w = 0; w < 3; w++)
		free(out[w]);
}

/* tapir run's overload policy.  The worker cannot keep up: its conn.log is
 * a pipe that nobody reads (a stalled disk), and every new flow evicts the
 * last one and so writes a record.  The front must drop at the full queue
 * and count, never wait; once the pipe is read again, every packet is in a
 * flow or counted as dropped. */
static void test_live_overload_drops_at_queue(void **state)
{
	(void)state;
	enum { N = 200000 };
	char path[128], err[256] = "";
	struct tp_pipeline_totals t;

	snprintf(path, sizeof(path), "%s/conn.log", P.dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	P.fifo = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(P.fifo >= 0);
	P.cfg->max_flows = 1;
	P.cfg->queue_size = 1024;
	P.cfg->workers = 1;
	P.pl = tp_pipeline_new_live(P.cfg, 1, err, sizeof(err));
	if (!P.pl)
		fail_msg("tp_pipeline_new_live: %s", err);
	struct tp_front *front = tp_pipeline_front(P.pl, 0);
	char why[160] = "";
	uint64_t now = T0;
	assert_true(tp_pipeline_check_health(P.pl, now, why, sizeof(why)));

	static const uint8_t a[4] = OUTER_A, c[4] = CLIENT, s[4] = SERVER;
	struct frame f;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < N; i++) {
		struct tcp_seg syn = {
			.src = c, .dst = s, .sport = (uint16_t)(1024 + i % 60000),
			.dport = (uint16_t)(1 + i / 60000), .seq = i,
			.flags = 0x02, .ip_id = (uint16_t)i,
		};
		struct tp_pkt p;
		build(&f, a, 50000, &syn, 64);
		memset(&p, 0, sizeof(p));
		p.data = f.b;
		p.caplen = p.wirelen = FRAME_LEN;
		p.ts_ns = T0 + i * NS_US;
		p.linktype = 1;
		tp_front_packet(front, &p);
		if (i % 64 == 63)
			tp_front_flush(front, 0);
	}
	tp_front_flush(front, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	tp_pipeline_totals(P.pl, &t);
	assert_int_equal(t.packets, N);
	/* The front went on while the worker was stuck. */
	assert_true(t.queue_drops > 0);
	assert_true(t.flow_packets + t.queue_drops < N);
	assert_true(t1.tv_sec - t0.tv_sec < 30);

	/* Health, on the clock the caller gives (checked once before the
	 * load): the window lost more than 1%; 6 s on, the stalled worker
	 * has not moved. */
	tp_front_beat(front);
	assert_false(tp_pipeline_check_health(P.pl, now + 11 * NS_S, why,
					       sizeof(why)));
	assert_non_null(strstr(why, "overloaded: lost"));
	tp_front_beat(front);
	assert_false(tp_pipeline_check_health(P.pl, now + 17 * NS_S, why,
					       sizeof(why)));
	assert_string_equal(why, "worker 0 stuck");

	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, drain, &P.fifo), 0);
	/* Read again, the worker catches up: still unhealthy while the
	 * lossy window's verdict holds, healthy after a clean window. */
	for (int i = 0; i < 3000; i++) {
		tp_pipeline_totals(P.pl, &t);
		if (t.flow_packets + t.queue_drops == N)
			break;
		usleep(1000);
	}
	usleep(50 * 1000);
	tp_front_beat(front);
	assert_false(tp_pipeline_check_health(P.pl, now + 18 * NS_S, why,
					       sizeof(why)));
	assert_non_null(strstr(why, "overloaded: lost"));
	usleep(50 * 1000);
	tp_front_beat(front);
	assert_true(tp_pipeline_check_health(P.pl, now + 22 * NS_S, why,
					     sizeof(why)));
	tp_pipeline_finish(P.pl);
	assert_false(tp_pipeline_check_health(P.pl, now + 23 * NS_S, why,
					      sizeof(why)));
	assert_string_equal(why, "stopping");
	tp_pipeline_totals(P.pl, &t);
	assert_int_equal(tp_pipeline_free(P.pl), 0);
	P.pl = NULL;
	pthread_join(th, NULL);
	close(P.fifo);
	P.fifo = -1;
	print_message("%" PRIu64 " of %u packets dropped at the queue\n",
		      t.queue_drops, (unsigned)N);
	assert_int_equal(t.flow_packets + t.queue_drops, N);
	assert_int_equal(t.flows, t.flow_packets);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_both_sides_one_worker),
		T(test_both_sides_two_workers),
		T(test_one_side_no_duplicates),
		T(test_dedup_disabled_counts_copies),
		T(test_copy_past_window_not_duplicate),
		T(test_many_flows_any_worker_count),
		T(test_live_overload_drops_at_queue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
