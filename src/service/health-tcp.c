/* TCP health ports, as a network load balancer checks a target: a TCP
 * handshake that completes means healthy.  Each port has one dual-stack
 * socket on all addresses; one thread accepts and closes at once.
 *
 * Unhealthy must fail fast, so the socket stops listening rather than
 * stopping accepting (a full backlog makes the balancer wait for its own
 * timeout).  Closing the socket would do, but re-binding a port below 1024
 * is impossible once root is dropped.  Linux has a way between: shutdown
 * (SHUT_RD) of a listening TCP socket takes it out of the listening state
 * (pending connections are reset) and keeps it bound to its port, and a
 * later listen() resumes; no bind, no privilege.  The port is only held
 * against programs without SO_REUSEADDR while we are down; should one take
 * it, listen() fails and is retried at the next check.
 *
 * The state (listening or not) changes under the lock, by the thread or by
 * tp_health_tcp_down; accept needs no lock (on a socket that stopped
 * listening it fails with EINVAL, which is ignored). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "service/service.h"
#include "service/sock.h"
#include "util/log.h"
#include "util/mem.h"

#define HEALTH_BACKLOG 128
#define CHECK_INTERVAL_MS 250

struct tp_health_tcp {
	struct tp_health_source hs;
	unsigned n;                 /* sockets opened */
	int fds[TP_HEALTH_TCP_MAX];
	uint16_t ports[TP_HEALTH_TCP_MAX];
	int wake[2];                /* pipe: stop, or check now */
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock;
	bool listening;             /* under lock */
	bool down;                  /* under lock: tp_health_tcp_down */
	atomic_bool stop;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Called with t->lock held. */
static void set_listening(struct tp_health_tcp *t, bool on)
{
	bool all = true;

	for (unsigned i = 0; i < t->n; i++) {
		int rc = on ? listen(t->fds[i], HEALTH_BACKLOG)
			    : shutdown(t->fds[i], SHUT_RD);
		/* ENOTCONN: shutting down a socket that never listened. */
		if (rc < 0 && !(!on && errno == ENOTCONN)) {
			all = false;
			tp_log_warn("health port %u: %s failed: %s",
				    t->ports[i], on ? "listen" : "shutdown",
				    strerror(errno));
		}
	}
	/* A port that failed to listen is retried at the next check. */
	t->listening = on && all;
}

static void drain_accepts(int fd)
{
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c >= 0) {
			close(c);
			continue;
		}
		/* EAGAIN: done; EINVAL: stopped listening meanwhile;
		 * ECONNABORTED: the peer gave up; EMFILE and the like: the
		 * next poll tries again. */
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		return;
	}
}

/* Ask the pipeline and follow its answer; returns whether the sockets
 * listen now. */
static bool check(struct tp_health_tcp *t)
{
	char why[256] = "";
	bool ok = !t->hs.healthy || t->hs.healthy(t->hs.arg, why, sizeof(why));
	why[sizeof(why) - 1] = '\0';

	pthread_mutex_lock(&t->lock);
	bool down = t->down;
	if (down)
		ok = false;
	if (ok != t->listening)
		set_listening(t, ok);
	bool listening = t->listening;
	pthread_mutex_unlock(&t->lock);

	/* Changes of health are logged by whoever judges it. */
	return listening;
}

static void *health_thread(void *arg)
{
	struct tp_health_tcp *t = arg;
	struct pollfd pfd[1 + TP_HEALTH_TCP_MAX];
	uint64_t next_check = 0;
	bool listening = false;

	while (!atomic_load(&t->stop)) {
		uint64_t now = now_ms();
		if (now >= next_check) {
			listening = check(t);
			next_check = now + CHECK_INTERVAL_MS;
		}

		pfd[0] = (struct pollfd){.fd = t->wake[0], .events = POLLIN};
		/* A socket that does not listen polls as POLLHUP at once:
		 * it is left out (fd -1) rather than spun on. */
		for (unsigned i = 0; i < t->n; i++)
			pfd[1 + i] = (struct pollfd){
				.fd = listening ? t->fds[i] : -1,
				.events = POLLIN};
		now = now_ms();
		int wait = next_check > now ? (int)(next_check - now) : 0;
		if (poll(pfd, 1 + t->n, wait) <= 0)
			continue;
		if (pfd[0].revents) {
			char b[64];
			while (read(t->wake[0], b, sizeof(b)) > 0)
				;
			next_check = 0;
		}
		for (unsigned i = 0; i < t->n; i++)
			if (pfd[1 + i].revents & POLLIN)
				drain_accepts(t->fds[i]);
	}
	return NULL;
}

static void wake(struct tp_health_tcp *t)
{
	ssize_t w = write(t->wake[1], "x", 1);
	(void)w; /* a full pipe already wakes the thread */
}

struct tp_health_tcp *tp_health_tcp_start(const uint16_t *ports, unsigned n,
					  const struct tp_health_source *hs,
					  char *err, size_t errlen)
{
	struct tp_health_tcp *t;
	sigset_t all, old;

	if (n > TP_HEALTH_TCP_MAX) {
		snprintf(err, errlen, "at most %d TCP health ports, not %u",
			 TP_HEALTH_TCP_MAX, n);
		return NULL;
	}
	t = tp_calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory starting the health ports");
		return NULL;
	}
	t->hs = *hs;
	t->wake[0] = t->wake[1] = -1;
	atomic_init(&t->stop, false);
	pthread_mutex_init(&t->lock, NULL);
	if (pipe2(t->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "health ports: pipe: %s", strerror(errno));
		goto fail;
	}
	for (unsigned i = 0; i < n; i++) {
		struct tp_sock_addr a;
		if (ports[i] == 0) {
			/* An ephemeral port would be given up by the first
			 * shutdown and be another one at the next listen. */
			snprintf(err, errlen,
				 "health TCP port 0: give a port number "
				 "(1-65535)");
			goto fail;
		}
		tp_sock_any(&a, ports[i]);
		t->ports[i] = ports[i];
		/* Bound, not listening: the first check decides. */
		int fd = tp_sock_listen_tcp(&a, false, HEALTH_BACKLOG, err,
					    errlen);
		if (fd < 0)
			goto fail;
		t->fds[i] = fd;
		t->n = i + 1;
	}
	/* Listening or not when we return, as the pipeline says. */
	check(t);

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&t->thread, NULL, health_thread, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(err, errlen, "health ports: thread: %s", strerror(rc));
		goto fail;
	}
	t->thread_started = true;
	return t;
fail:
	tp_health_tcp_stop(t);
	return NULL;
}

void tp_health_tcp_down(struct tp_health_tcp *t)
{
	pthread_mutex_lock(&t->lock);
	t->down = true;
	set_listening(t, false);
	pthread_mutex_unlock(&t->lock);
	wake(t);
}

void tp_health_tcp_stop(struct tp_health_tcp *t)
{
	if (!t)
		return;
	if (t->thread_started) {
		atomic_store(&t->stop, true);
		wake(t);
		pthread_join(t->thread, NULL);
	}
	for (unsigned i = 0; i < t->n; i++)
		close(t->fds[i]);
	if (t->wake[0] >= 0)
		close(t->wake[0]);
	if (t->wake[1] >= 0)
		close(t->wake[1]);
	pthread_mutex_destroy(&t->lock);
	tp_free(t, sizeof(*t));
}
