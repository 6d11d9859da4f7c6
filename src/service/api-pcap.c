/* GET /api/pcap: see api-pcap.h.
 *
 * A request's job is shared by two owners, the connection (until
 * libmicrohttpd says the request is over) and the query's thread (until
 * the query returns); the last to let go frees it.  Under the job's lock:
 * whether the connection is suspended and alive, and whether the query is
 * done.  The query thread writes through a FILE whose write function
 * writes into the pipe and then resumes the connection if it waits; the
 * reader (libmicrohttpd's content callback) reads the pipe without
 * blocking and suspends the connection when it is empty. */
#include "service/api-pcap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/query-args.h"
#include "util/log.h"
#include "util/mem.h"

#define BLOCK (64 * 1024)

struct job {
	struct tp_pcap_api *api;
	struct MHD_Connection *conn;
	pthread_mutex_t mu;
	int refs;                /* connection + query thread */
	bool alive;              /* the connection's request is not over */
	bool suspended;
	bool done;               /* the query has returned */
	bool responded;          /* a response was queued */
	uint64_t sent;           /* bytes the query wrote into the pipe */
	int rc;                  /* the query's result */
	char err[1024];
	int rfd, wfd;
	struct tp_query_req req;
	struct job *next;        /* api->jobs */
};

struct tp_pcap_api {
	pthread_mutex_t mu;
	pthread_cond_t cv;       /* a job went */
	const struct tp_config *_Atomic cfg;
	atomic_bool stopping;
	unsigned running;        /* queries not yet returned */
	struct job *jobs;
};

struct tp_pcap_api *tp_pcap_api_new(void)
{
	struct tp_pcap_api *a = tp_calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	atomic_init(&a->cfg, NULL);
	atomic_init(&a->stopping, false);
	return a;
}

void tp_pcap_api_set_store(struct tp_pcap_api *a, const struct tp_config *cfg)
{
	atomic_store(&a->cfg, cfg);
}

/* Queue r (NULL: out of memory) with its type and no caching; r is
 * released. */
static enum MHD_Result queue(struct MHD_Connection *c, unsigned status,
			     struct MHD_Response *r, const char *type)
{
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status,
				  const char *text)
{
	return queue(c, status,
		     MHD_create_response_from_buffer(strlen(text), (void *)text,
						     MHD_RESPMEM_MUST_COPY),
		     "text/plain; charset=utf-8");
}

/* Drop one reference; the last frees the job.  Called without its lock. */
static void job_put(struct job *j)
{
	pthread_mutex_lock(&j->mu);
	bool last = --j->refs == 0;
	pthread_mutex_unlock(&j->mu);
	if (!last)
		return;
	struct tp_pcap_api *a = j->api;
	pthread_mutex_lock(&a->mu);
	for (struct job **p = &a->jobs; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	if (j->rfd >= 0)
		close(j->rfd);
	if (j->wfd >= 0)
		close(j->wfd);
	tp_query_req_fini(&j->req);
	pthread_mutex_destroy(&j->mu);
	tp_free(j, sizeof(*j));
}

/* Wake the connection if it waits for the pipe.  Under j->mu. */
static void wake(struct job *j)
{
	if (j->alive && j->suspended) {
		j->suspended = false;
		MHD_resume_connection(j->conn);
	}
}

/* The query's FILE: into the pipe, then wake the reader. */
static ssize_t cookie_write(void *cookie, const char *buf, size_t n)
{
	struct job *j = cookie;
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(j->wfd, buf + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return done ? (ssize_t)done : -1;
		done += (size_t)w;
		pthread_mutex_lock(&j->mu);
		j->sent += (uint64_t)w;
		wake(j);
		pthread_mutex_unlock(&j->mu);
	}
	return (ssize_t)done;
}

static void *query_main(void *arg)
{
	struct job *j = arg;
	struct tp_query_result res;
	char err[sizeof(j->err)] = "";
	cookie_io_functions_t io = {.write = cookie_write};

	FILE *out = fopencookie(j, "w", io);
	int rc = -ENOMEM;
	if (out) {
		setvbuf(out, NULL, _IOFBF, BLOCK);
		rc = tp_query_run(&j->req.q, out, &res, err, sizeof(err));
		if (fclose(out) != 0 && rc == 0) {
			rc = -EIO;
			snprintf(err, sizeof(err), "writing the answer: %s",
				 strerror(errno));
		}
	} else {
		snprintf(err, sizeof(err), "out of memory");
	}
	if (rc < 0 && rc != -EIO)
		tp_log_warn("GET /api/pcap '%s': %s", j->req.q.text, err);
	pthread_mutex_lock(&j->mu);
	close(j->wfd);           /* the reader sees the end */
	j->wfd = -1;
	j->rc = rc;
	memcpy(j->err, err, sizeof(err));
	j->done = true;
	wake(j);
	pthread_mutex_unlock(&j->mu);

	struct tp_pcap_api *a = j->api;
	pthread_mutex_lock(&a->mu);
	a->running--;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	job_put(j);
	return NULL;
}

/* libmicrohttpd's content callback: what the pipe has, or a pause. */
static ssize_t read_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct job *j = cls;
	(void)pos;
	pthread_mutex_lock(&j->mu);
	ssize_t n = read(j->rfd, buf, max);
	if (n == 0) {
		n = j->rc < 0 ? MHD_CONTENT_READER_END_WITH_ERROR
			      : MHD_CONTENT_READER_END_OF_STREAM;
	} else if (n < 0) {
		if ((errno == EAGAIN || errno == EINTR) && !j->done &&
		    !atomic_load(&j->api->stopping)) {
			/* Nothing yet: wait for the query's next write. */
			MHD_suspend_connection(j->conn);
			j->suspended = true;
			n = 0;
		} else {
			n = MHD_CONTENT_READER_END_WITH_ERROR;
		}
	}
	pthread_mutex_unlock(&j->mu);
	return n;
}

static const char *arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static uint64_t wall_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* First call of a request: check it and start its query. */
static enum MHD_Result start(struct tp_pcap_api *a, struct MHD_Connection *c,
			     void **con_cls)
{
	const struct tp_config *cfg = atomic_load(&a->cfg);
	char err[1200];

	if (atomic_load(&a->stopping) || !cfg)
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				  atomic_load(&a->stopping) ? "stopping\n"
							    : "starting\n");
	if (!cfg->store_dir[0])
		return reply_text(c, MHD_HTTP_NOT_FOUND,
				  "no packet store: store.dir is \"\"\n");
	const char *expr = arg(c, "expr");
	if (!expr)
		return reply_text(c, MHD_HTTP_BAD_REQUEST,
				  "give the expression: /api/pcap?expr=... "
				  "(BPF over the inner packet and tapir's "
				  "fields; empty for every packet)\n");

	struct job *j = tp_calloc(1, sizeof(*j));
	if (!j)
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "out of memory\n");
	j->api = a;
	j->conn = c;
	j->rfd = j->wfd = -1;
	pthread_mutex_init(&j->mu, NULL);
	struct tp_query_args qa = {
		.expr = expr, .since = arg(c, "since"), .until = arg(c, "until"),
		.limit = arg(c, "limit"), .opt = "",
	};
	int rc = tp_query_req_init(&j->req, cfg, &qa, wall_ns(), err,
				   sizeof(err) - 1);
	if (rc < 0) {
		j->refs = 1;
		job_put(j);
		strcat(err, "\n");
		return reply_text(c, rc == -EINVAL ? MHD_HTTP_BAD_REQUEST
				  : rc == -ENOENT ? MHD_HTTP_NOT_FOUND
						  : MHD_HTTP_INTERNAL_SERVER_ERROR,
				  err);
	}
	/* The arguments are libmicrohttpd's, valid while the request lasts,
	 * which the job may outlive: the query keeps its own copy. */
	j->req.q.text = "";
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		j->refs = 1;
		job_put(j);
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "cannot make a pipe\n");
	}
	j->rfd = p[0];
	j->wfd = p[1];
	fcntl(j->rfd, F_SETFL, O_NONBLOCK);

	pthread_mutex_lock(&a->mu);
	bool stopping = atomic_load(&a->stopping);
	if (a->running >= TP_PCAP_API_MAX || stopping) {
		pthread_mutex_unlock(&a->mu);
		j->refs = 1;
		job_put(j);
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				  stopping ? "stopping\n"
					   : "busy: too many pcap queries at "
					     "once; try again when one has "
					     "ended\n");
	}
	j->refs = 2;
	j->alive = true;
	j->next = a->jobs;
	a->jobs = j;
	a->running++;
	/* Suspended before the thread can wake it: the first bytes, or the
	 * end, resume it and the next call answers.  Under a->mu, so that
	 * tp_pcap_api_stop either sees this job suspended or comes before
	 * it and is seen above. */
	pthread_mutex_lock(&j->mu);
	MHD_suspend_connection(c);
	j->suspended = true;
	pthread_mutex_unlock(&j->mu);
	pthread_mutex_unlock(&a->mu);
	*con_cls = j;

	pthread_t t;
	pthread_attr_t at;
	sigset_t all, old;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&t, &at, query_main, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	if (e) {
		pthread_mutex_lock(&a->mu);
		a->running--;
		pthread_mutex_unlock(&a->mu);
		pthread_mutex_lock(&j->mu);
		snprintf(j->err, sizeof(j->err), "cannot start the query");
		j->rc = -e;
		j->done = true;
		j->refs--;
		wake(j);
		pthread_mutex_unlock(&j->mu);
	}
	return MHD_YES;
}

enum MHD_Result tp_pcap_api_request(struct tp_pcap_api *a,
				    struct MHD_Connection *c, void **con_cls)
{
	struct job *j = *con_cls;
	if (!j)
		return start(a, c, con_cls);

	pthread_mutex_lock(&j->mu);
	if (j->responded || atomic_load(&a->stopping)) {
		pthread_mutex_unlock(&j->mu);
		return MHD_NO;
	}
	if (!j->sent && !j->done) {
		/* Woken for nothing: wait on. */
		MHD_suspend_connection(c);
		j->suspended = true;
		pthread_mutex_unlock(&j->mu);
		return MHD_YES;
	}
	j->responded = true;
	bool failed = !j->sent && j->rc < 0;
	char err[sizeof(j->err) + 2];
	snprintf(err, sizeof(err), "%s\n", j->err);
	pthread_mutex_unlock(&j->mu);

	if (failed)
		return reply_text(c, j->rc == -EINVAL ? MHD_HTTP_BAD_REQUEST
					       : MHD_HTTP_INTERNAL_SERVER_ERROR,
				  err);
	struct MHD_Response *r = MHD_create_response_from_callback(
		MHD_SIZE_UNKNOWN, BLOCK, read_body, j, NULL);
	if (r)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
					"attachment; filename=\"tapir.pcap\"");
	return queue(c, MHD_HTTP_OK, r, "application/vnd.tcpdump.pcap");
}

void tp_pcap_api_completed(struct tp_pcap_api *a, void **con_cls)
{
	struct job *j = *con_cls;
	(void)a;
	if (!j)
		return;
	*con_cls = NULL;
	pthread_mutex_lock(&j->mu);
	j->alive = false;
	j->suspended = false;
	/* A query still writing gets EPIPE and ends. */
	if (j->rfd >= 0) {
		close(j->rfd);
		j->rfd = -1;
	}
	pthread_mutex_unlock(&j->mu);
	job_put(j);
}

void tp_pcap_api_stop(struct tp_pcap_api *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	atomic_store(&a->stopping, true);
	for (struct job *j = a->jobs; j; j = j->next) {
		pthread_mutex_lock(&j->mu);
		wake(j);
		pthread_mutex_unlock(&j->mu);
	}
	pthread_mutex_unlock(&a->mu);
}

void tp_pcap_api_free(struct tp_pcap_api *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	if (a->jobs)
		tp_log_info("waiting for %u pcap quer%s to end", a->running,
			    a->running == 1 ? "y" : "ies");
	while (a->jobs)
		pthread_cond_wait(&a->cv, &a->mu);
	pthread_mutex_unlock(&a->mu);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	tp_free(a, sizeof(*a));
}
