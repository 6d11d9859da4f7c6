/* libFuzzer target for the JSON reader of `tapir stats`
 * (service/json-scan.c) and the summary it prints (cmd-stats.c, built into
 * this target): the input is a reply body, read from a buffer exactly as
 * long, so that a read past its end shows.
 *
 * Besides crashes and sanitizer reports, it checks what the reader
 * promises: the cursor stays within the buffer and only moves forward; a
 * value skipped without error took at least one byte and closed every
 * level it opened; a string is NUL-terminated within the room given, and
 * a number is made of number characters. */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "service/json-scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_STARTS 64

/* The cursor has not moved back from before, nor past end. */
static void check_cur(const struct tp_json_cur *c, const char *before,
		      const char *end)
{
	if (c->end != end || c->p < before || c->p > end)
		__builtin_trap();
}

/* Values one after another, as in a stream of them. */
static void walk(const char *buf, size_t size)
{
	struct tp_json_cur c;

	tp_json_init(&c, buf, size);
	while (!c.bad) {
		const char *before = c.p;
		tp_json_ws(&c);
		check_cur(&c, before, buf + size);
		if (c.p == c.end)
			break;
		before = c.p;
		tp_json_skip(&c);
		check_cur(&c, before, buf + size);
		if (!c.bad && (c.depth != 0 || c.p == before))
			__builtin_trap();
	}
}

/* A string from every quote and a number from every digit or '-', into
 * room of n bytes (heap, exactly n: a write past it shows). */
static void pieces(const char *buf, size_t size, size_t n)
{
	char *out = malloc(n);
	unsigned starts = 0;

	if (!out)
		abort();
	for (size_t i = 0; i < size && starts < MAX_STARTS; i++) {
		const char *at = buf + i, *end = buf + size;
		struct tp_json_cur c;
		tp_json_init(&c, at, size - i);
		if (*at == '"') {
			starts++;
			bool ok = tp_json_str(&c, out, n);
			check_cur(&c, at, end);
			if (ok == c.bad || !memchr(out, '\0', n))
				__builtin_trap();
		} else if (*at == '-' || (*at >= '0' && *at <= '9')) {
			starts++;
			if (!tp_json_is_num(&c))
				__builtin_trap();
			tp_json_num(&c, out, n);
			check_cur(&c, at, end);
			if (c.p == at || !memchr(out, '\0', n) ||
			    strspn(out, "0123456789+-.eE") != strlen(out))
				__builtin_trap();
		}
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	const char *buf = (const char *)data;
	size_t bad_at = SIZE_MAX;

	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	walk(buf, size);
	pieces(buf, size, size ? 1 + data[0] % 16 : 1);
	if (tp_stats_summary(devnull, buf, size, &bad_at) < 0 &&
	    bad_at > size)
		__builtin_trap();
	return 0;
}
