/* Diagnostics to stderr: one place that formats user-facing messages. */
#ifndef TP_UTIL_LOG_H
#define TP_UTIL_LOG_H

#include <stdio.h>
#include <stdlib.h>

#define TP_PRINTF(a, b) __attribute__((format(printf, a, b)))

void tp_log_error(const char *fmt, ...) TP_PRINTF(1, 2);
void tp_log_warn(const char *fmt, ...) TP_PRINTF(1, 2);
void tp_log_info(const char *fmt, ...) TP_PRINTF(1, 2);

/* Set once at start-up: 0 quiet, 1 normal, 2 verbose. */
extern int tp_log_level;

/* An invariant that cannot fail unless tapir itself is wrong. */
#define TP_BUG_ON(cond)                                                   \
	do {                                                              \
		if (__builtin_expect(!!(cond), 0)) {                      \
			fprintf(stderr, "tapir: BUG at %s:%d: %s\n",      \
				__FILE__, __LINE__, #cond);               \
			abort();                                          \
		}                                                         \
	} while (0)

#define TP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TP_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TP_MAX(a, b) ((a) > (b) ? (a) : (b))
#define TP_LIKELY(x) __builtin_expect(!!(x), 1)
#define TP_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif
