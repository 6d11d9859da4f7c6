/* Worker: dedup, flow table, connection accounting, conn.log. */
#include "dispatch/worker.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "app/app-flow.h"
#include "flow/conn.h"
#include "flow/tcp-analysis.h"
#include "output/logs.h"
#include "util/log.h"
#include "util/mem.h"

#define EXPIRE_EVERY_NS 1000000000ull

static void on_flow_end(void *arg, struct tp_flow *f, enum tp_flow_end why)
{
	struct tp_worker *w = arg;
	(void)why;
	if (f->tcpa)
		tp_tcpa_prefetch_all(f->tcpa);
	if (w->app)
		tp_app_flow_end(w->app, f);
	tp_conn_log_write(&w->conn, f, w->sessions);
	if (f->tcpa)
		tp_tcp_log_write(&w->tcp, f, f->tcpa);
	if (w->app)
		tp_app_flow_free(w->app, f);
}

int tp_worker_init(struct tp_worker *w, unsigned id,
		   const struct tp_config *cfg, struct tp_sessions *sessions,
		   struct tp_log *conn_log, struct tp_log *tcp_log,
		   uint64_t max_flows)
{
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->cfg = cfg;
	w->sessions = sessions;
	w->flows = tp_flow_table_new(max_flows, cfg, on_flow_end, w);
	if (cfg->dedup_enabled) {
		w->dedup = tp_dedup_new(cfg->dedup_table_size,
					cfg->dedup_window_ns);
		/* Per worker, so that no counter line moves between cores. */
		w->nsession_dups = cfg->max_sessions;
		w->session_dups = tp_calloc(w->nsession_dups,
					    sizeof(*w->session_dups));
		if (!w->session_dups)
			w->nsession_dups = 0;
	}
	if (!w->flows || (cfg->dedup_enabled && !w->dedup) ||
	    tp_rec_init(&w->conn, conn_log, 256 * 1024) < 0 ||
	    tp_rec_init(&w->tcp, tcp_log, 64 * 1024) < 0) {
		tp_worker_fini(w);
		return -ENOMEM;
	}
	return 0;
}

void tp_worker_fini(struct tp_worker *w)
{
	/* Flows still open hold application state. */
	if (w->app && w->flows)
		tp_flow_flush(w->flows);
	tp_app_free(w->app);
	w->app = NULL;
	tp_rec_fini(&w->conn);
	tp_rec_fini(&w->tcp);
	tp_flow_table_free(w->flows);
	tp_dedup_free(w->dedup);
	tp_free(w->session_dups, (size_t)w->nsession_dups * sizeof(uint64_t));
	w->session_dups = NULL;
	for (unsigned i = 0; w->rings && i < w->nrings; i++) {
		if (w->rings[i].items)
			tp_free(w->rings[i].items, (w->rings[i].mask + 1) *
					   sizeof(*w->rings[i].items));
		if (w->rings[i].bytes)
			tp_free(w->rings[i].bytes, w->rings[i].bsize);
	}
	if (w->rings)
		tp_free(w->rings, w->nrings * sizeof(*w->rings));
	w->flows = NULL;
	w->dedup = NULL;
	w->rings = NULL;
}

/* Window scale options, by shift. */
static const uint8_t wscale_opt[15][3] = {
	{3, 3, 0}, {3, 3, 1}, {3, 3, 2}, {3, 3, 3}, {3, 3, 4},
	{3, 3, 5}, {3, 3, 6}, {3, 3, 7}, {3, 3, 8}, {3, 3, 9},
	{3, 3, 10}, {3, 3, 11}, {3, 3, 12}, {3, 3, 13}, {3, 3, 14},
};

/* The view the connection code reads, rebuilt from a queued item. */
static void pkt_from_item(struct tp_pkt *p, const struct tp_witem *it)
{
	memset(p, 0, sizeof(*p));
	p->ts_ns = it->ts_ns;
	p->ipver = it->key.ipver;
	p->proto = it->key.proto;
	p->ttl = it->ttl;
	p->truncated = it->truncated;
	p->ip_len = it->ip_len;
	p->ip_cap = it->ip_cap;
	p->ip_hlen = it->ip_hlen;
	p->l4 = true;
	p->sport = it->sport;
	p->dport = it->dport;
	p->tcp_flags = it->tcp_flags;
	p->tcp_hlen = it->tcp_hlen;
	p->tcp_win = it->tcp_win;
	p->seq = it->seq;
	p->ack = it->ack;
	p->payload_len = it->payload_len;
	p->payload_cap = it->payload_cap;
	if (it->syn_wscale >= 0) {
		/* The option the analytics read, rebuilt. */
		p->tcp_opts = wscale_opt[it->syn_wscale];
		p->tcp_opts_len = 3;
	}
	uint8_t s = it->side;
	p->src = it->key.a[s];
	p->dst = it->key.a[s ^ 1];
}

static void new_flow(struct tp_flow *f, const struct tp_witem *it,
		     const struct tp_pkt *p)
{
	f->session = it->session;
	f->vni = it->vni;
	f->has_vni = it->has_vni;
	uint8_t orig = it->side;
	if (tp_conn_first_is_resp(p))
		orig ^= 1;
	tp_conn_init(&f->conn, orig);
}

static enum tp_flow_phase tcp_phase(const struct tp_conn *c)
{
	uint8_t o = tp_conn_tcp_state(c, 0), r = tp_conn_tcp_state(c, 1);
	bool o_done = o == TP_TCP_CLOSED || o == TP_TCP_RESET;
	bool r_done = r == TP_TCP_CLOSED || r == TP_TCP_RESET;

	if ((o_done && r_done) || o == TP_TCP_RESET || r == TP_TCP_RESET)
		return TP_FLOW_CLOSED;
	if ((o == TP_TCP_SYN_SENT || o == TP_TCP_SYN_ACK_SENT) &&
	    r == TP_TCP_INACTIVE)
		return TP_FLOW_ATTEMPT;
	return TP_FLOW_OPEN;
}

void tp_worker_handle(struct tp_worker *w, const struct tp_witem *it)
{
	struct tp_pkt scratch;
	const struct tp_pkt *p = &scratch;
	bool created;

	if (it->ts_ns > w->now_ns)
		w->now_ns = it->ts_ns;
	if (it->kind == TP_WI_TICK || w->now_ns >= w->next_expire_ns) {
		if (w->next_expire_ns != 0)
			tp_flow_expire(w->flows, w->now_ns);
		w->next_expire_ns = w->now_ns + EXPIRE_EVERY_NS;
	}
	if (it->kind == TP_WI_TICK) {
		/* Records reach the file at least once a second. */
		tp_rec_flush(&w->conn);
		tp_rec_flush(&w->tcp);
		if (w->app) {
			tp_app_flush(w->app);
			tp_app_clock(w->app, w->now_ns);
		}
		return;
	}
	if (it->kind == TP_WI_END) {
		tp_flow_flush(w->flows);
		tp_rec_flush(&w->conn);
		tp_rec_flush(&w->tcp);
		if (w->app) {
			tp_app_flush(w->app);
			tp_app_clock(w->app, UINT64_MAX);
		}
		return;
	}
	if (it->dedup && w->dedup &&
	    tp_dedup_check(w->dedup, it->dedup, it->ts_ns)) {
		w->duplicates++;
		if (it->session < w->nsession_dups)
			w->session_dups[it->session]++;
		return;
	}
	w->packets++;
	pkt_from_item(&scratch, it);

	struct tp_flow *f = tp_flow_get(w->flows, &it->key, it->hash,
					it->ts_ns, &created);
	if (!created && tp_conn_is_reuse(&f->conn, p)) {
		tp_flow_end(w->flows, f, TP_FLOW_END_REUSED);
		f = tp_flow_get(w->flows, &it->key, it->hash, it->ts_ns,
				&created);
	}
	if (created)
		new_flow(f, it, p);
	uint64_t missed = f->conn.missed_bytes;
	bool extends = tp_conn_update(&f->conn, it->side, p);
	if (f->conn.missed_bytes != missed)
		w->gaps++;
	/* Wireshark analyses every segment, also those conn.log drops for
	 * options cut off by the capture. */
	if (f->tcpa)
		tp_tcpa_update(f->tcpa, it->side, p, NULL);
	if (it->key.proto == 6 && (it->tcp_flags & TP_TH_ACK))
		w->acks++;
	if (w->app)
		tp_app_packet(w->app, f, it->side, p, it->bytes, it->nbytes,
			      it->l4_off);
	tp_flow_touch(w->flows, f, extends ? it->ts_ns : f->last_ns);
	if (it->key.proto == 6)
		tp_flow_set_phase(w->flows, f, tcp_phase(&f->conn), it->ts_ns);
}

void tp_worker_handle_batch(struct tp_worker *w, const struct tp_witem *it,
			    unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (it[i].kind != TP_WI_PACKET)
			continue;
		if (it[i].dedup && w->dedup)
			tp_dedup_prefetch(w->dedup, it[i].dedup);
		tp_flow_prefetch_bucket(w->flows, it[i].hash);
	}
	for (unsigned i = 0; i < n; i++)
		if (it[i].kind == TP_WI_PACKET)
			tp_flow_prefetch_entry(w->flows, it[i].hash);
	for (unsigned i = 0; i < n; i++)
		if (it[i].key.proto == 6 && it[i].kind == TP_WI_PACKET)
			tp_flow_prefetch_tcpa(w->flows, it[i].hash);
	for (unsigned i = 0; i < n; i++)
		tp_worker_handle(w, &it[i]);
}

/* Threaded mode. */

/* Spins before a side sleeps: short, since on a machine with fewer cores
 * than threads a spinning side takes CPU from the one it waits for. */
#define SPINS 128
/* Items that make it worth waking a sleeping worker before a tick. */
#define WAKE_BATCH 1024

static void futex_wait(_Atomic uint32_t *word, uint32_t seen)
{
	/* A bounded wait: a lost wake-up costs at most this much. */
	struct timespec ts = {0, 10 * 1000 * 1000};
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, seen, &ts,
		NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word)
{
	atomic_fetch_add(word, 1);
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 1, NULL,
		NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* A consumer gives the cache lines of the items it has handled back to
 * memory.  The producer writes every slot again one lap later; a line still
 * in the consumer's cache then costs each of the producer's stores an
 * invalidation on the other core, which on a machine whose cores sit in
 * separate complexes (a cloud VM's vCPUs, often) stalls the decoding
 * thread for most of the hand-over.  A line in memory costs the producer a
 * fetch that its prefetcher overlaps.  x86 with CLFLUSHOPT only; elsewhere
 * a no-op. */
#if defined(__x86_64__)
#include <cpuid.h>

/* Set by the first tp_worker_start(), before any worker thread exists;
 * only read after. */
static bool have_clflushopt, detected;

static void detect_clflushopt(void)
{
	unsigned a, b = 0, c, d;
	if (detected)
		return;
	detected = true;
	have_clflushopt = __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
			  (b & bit_CLFLUSHOPT);
}

static void release_lines(const void *start, const void *end)
{
	if (!have_clflushopt)
		return;
	uintptr_t a = (uintptr_t)start & ~(uintptr_t)63;
	for (; a < (uintptr_t)end; a += 64)
		__asm__ volatile("clflushopt %0" ::"m"(*(const volatile char *)a));
}
#else
static void detect_clflushopt(void)
{
}

static void release_lines(const void *start, const void *end)
{
	(void)start;
	(void)end;
}
#endif

/* Items from to end of ring r, which may wrap. */
static void release_items(const struct tp_ring *r, uint64_t from, uint64_t end)
{
	uint64_t a = from & r->mask, b = end & r->mask;
	if (a < b) {
		release_lines(r->items + a, r->items + b);
	} else {
		release_lines(r->items + a, r->items + r->mask + 1);
		release_lines(r->items, r->items + b);
	}
}

/* The items' packet bytes from from to end, which may wrap. */
static void release_bytes(const struct tp_ring *r, uint64_t from, uint64_t end)
{
	if (end - from >= r->bsize)
		from = end - r->bsize;
	uint64_t a = from & (r->bsize - 1), b = end & (r->bsize - 1);
	if (from == end)
		return;
	if (a < b) {
		release_lines(r->bytes + a, r->bytes + b);
	} else {
		release_lines(r->bytes + a, r->bytes + r->bsize);
		release_lines(r->bytes, r->bytes + b);
	}
}

static bool rings_empty(struct tp_worker *w, const uint64_t *tails)
{
	for (unsigned i = 0; i < w->nrings; i++)
		if (atomic_load(&w->rings[i].head) != tails[i])
			return false;
	return true;
}

/* Consumer: drain up to a few batches of ring i.  Returns the items
 * handled; *ended is set when the ring delivered its end. */
static unsigned drain(struct tp_worker *w, unsigned i, uint64_t *tailp,
		      bool *ended)
{
	struct tp_ring *r = &w->rings[i];
	const uint64_t mask = r->mask;
	const struct tp_witem *items = r->items;
	const uint64_t tail0 = *tailp;
	uint64_t tail = tail0;
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);

	/* A bounded share per visit, so that one busy ring does not starve
	 * the others. */
	while (tail != head && tail - tail0 < 8 * TP_WORKER_BATCH) {
		/* A run of items contiguous in the ring, at most a batch; the
		 * end item is always last of its run. */
		uint64_t n = head - tail;
		uint64_t to_wrap = mask + 1 - (tail & mask);
		if (n > to_wrap)
			n = to_wrap;
		if (n > TP_WORKER_BATCH)
			n = TP_WORKER_BATCH;
		const struct tp_witem *it = &items[tail & mask];
		tp_worker_handle_batch(w, it, (unsigned)n);
		tail += n;
		if (it[n - 1].kind == TP_WI_END) {
			*ended = true;
			break;
		}
	}
	if (tail == tail0)
		return 0;
	uint64_t bfrom = 0, bend = 0;
	if (r->bytes) {
		bfrom = atomic_load_explicit(&r->btail, memory_order_relaxed);
		bend = items[(tail - 1) & mask].bend;
		atomic_store_explicit(&r->btail, bend, memory_order_release);
	}
	atomic_store(&r->tail, tail);
	/* A producer waiting for room sleeps until half the ring is free,
	 * not the first batch: waking it for every batch makes the two take
	 * turns a few dozen items at a time. */
	if (atomic_load(&r->producer_asleep) &&
	    (head - tail <= mask / 2 || *ended))
		futex_wake(&r->producer_wake);
	/* After the store of tail, which waits for every earlier flush. */
	release_items(r, tail0, tail);
	if (r->bytes)
		release_bytes(r, bfrom, bend);
	*tailp = tail;
	return (unsigned)(tail - tail0);
}

static void *worker_main(void *arg)
{
	struct tp_worker *w = arg;
	uint64_t tails[w->nrings];
	bool ended[w->nrings];
	unsigned nended = 0, idle = 0;

	memset(tails, 0, sizeof(tails));
	memset(ended, 0, sizeof(ended));
	while (nended < w->nrings) {
		unsigned done = 0;
		for (unsigned i = 0; i < w->nrings; i++) {
			if (ended[i])
				continue;
			done += drain(w, i, &tails[i], &ended[i]);
			if (ended[i])
				nended++;
		}
		atomic_fetch_add_explicit(&w->beat, 1, memory_order_relaxed);
		if (done) {
			idle = 0;
			continue;
		}
		if (++idle < SPINS) {
			cpu_relax();
			continue;
		}
		/* Sequentially consistent with the producers' publish:
		 * either a producer sees the flag, or this sees its items. */
		uint32_t seen = atomic_load(&w->wake);
		atomic_store(&w->asleep, 1);
		if (rings_empty(w, tails))
			futex_wait(&w->wake, seen);
		atomic_store(&w->asleep, 0);
		idle = 0;
	}
	tp_mem_flush_thread();
	return NULL;
}

int tp_worker_start(struct tp_worker *w, unsigned order, unsigned nrings)
{
	size_t n = (size_t)1 << order;
	detect_clflushopt();
	w->rings = tp_calloc_aligned(64, nrings * sizeof(*w->rings));
	if (!w->rings)
		return -ENOMEM;
	w->nrings = nrings;
	for (unsigned i = 0; i < nrings; i++) {
		w->rings[i].items = tp_calloc_aligned(
			64, n * sizeof(*w->rings[i].items));
		if (!w->rings[i].items)
			return -ENOMEM;
		w->rings[i].mask = n - 1;
		if (w->cfg->app_enabled) {
			/* Room for 256 bytes an item on average, and for
			 * a few of the largest. */
			size_t b = 4u << 20;
			while (b < n * 256)
				b <<= 1;
			w->rings[i].bytes = tp_malloc(b);
			if (!w->rings[i].bytes)
				return -ENOMEM;
			w->rings[i].bsize = b;
		}
	}
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		return -EAGAIN;
	w->running = 1;
	return 0;
}

/* Make ring r's items visible; wake a sleeping worker when forced (ticks,
 * end of a batch, end of input) or once enough items wait to be worth a
 * system call. */
static void publish(struct tp_worker *w, struct tp_ring *r, bool force)
{
	atomic_store(&r->head, r->phead);
	if (atomic_load(&w->asleep) &&
	    (force || r->phead - atomic_load(&r->tail) >= WAKE_BATCH))
		futex_wake(&w->wake);
}

void tp_worker_publish(struct tp_worker *w, unsigned ri)
{
	publish(w, &w->rings[ri], true);
}

/* Where n packet bytes go in the byte ring: contiguous, so a copy that
 * would cross the end starts over at the beginning. */
static inline uint64_t bytes_at(const struct tp_ring *r, uint32_t n)
{
	uint64_t at = r->bhead, in = at & (r->bsize - 1);
	if (in + n > r->bsize)
		at += r->bsize - in;
	return at;
}

static inline void put(struct tp_worker *w, struct tp_ring *r,
		       const struct tp_witem *it)
{
	struct tp_witem *slot = &r->items[r->phead & r->mask];
	*slot = *it;
	if (r->bytes) {
		if (it->nbytes) {
			uint64_t at = bytes_at(r, it->nbytes);
			uint8_t *dst = r->bytes + (at & (r->bsize - 1));
			memcpy(dst, it->bytes, it->nbytes);
			slot->bytes = dst;
			r->bhead = at + it->nbytes;
		}
		slot->bend = r->bhead;
	}
	r->phead++;
	if ((r->phead & 127) == 0)
		publish(w, r, false);
}

static inline bool bytes_full(struct tp_ring *r, uint32_t n)
{
	if (!r->bytes || !n)
		return false;
	uint64_t end = bytes_at(r, n) + n;
	if (end - r->btail_seen <= r->bsize)
		return false;
	r->btail_seen = atomic_load_explicit(&r->btail, memory_order_acquire);
	return end - r->btail_seen > r->bsize;
}

static inline bool full(struct tp_ring *r, uint32_t nbytes)
{
	if (r->phead - r->ptail > r->mask) {
		r->ptail = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (r->phead - r->ptail > r->mask)
			return true;
	}
	return bytes_full(r, nbytes);
}

bool tp_worker_try_push(struct tp_worker *w, unsigned ri,
			const struct tp_witem *it)
{
	struct tp_ring *r = &w->rings[ri];
	if (full(r, it->nbytes)) {
		r->drops++;
		publish(w, r, true);
		return false;
	}
	put(w, r, it);
	return true;
}

void tp_worker_push(struct tp_worker *w, unsigned ri, const struct tp_witem *it)
{
	struct tp_ring *r = &w->rings[ri];
	unsigned spins = 0;
	while (full(r, it->nbytes)) {
		/* Reading a file: wait for the worker, lose nothing. */
		publish(w, r, true);
		if (++spins < SPINS) {
			cpu_relax();
			continue;
		}
		uint32_t seen = atomic_load(&r->producer_wake);
		atomic_store(&r->producer_asleep, 1);
		if (full(r, it->nbytes))
			futex_wait(&r->producer_wake, seen);
		atomic_store(&r->producer_asleep, 0);
		spins = 0;
	}
	put(w, r, it);
}

void tp_worker_end(struct tp_worker *w, unsigned ri)
{
	struct tp_witem end;
	if (!w->running)
		return;
	memset(&end, 0, sizeof(end));
	end.kind = TP_WI_END;
	tp_worker_push(w, ri, &end);
	tp_worker_publish(w, ri);
}

void tp_worker_join(struct tp_worker *w)
{
	if (!w->running)
		return;
	pthread_join(w->thread, NULL);
	w->running = 0;
}
