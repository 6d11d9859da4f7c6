/* A small JSON reader over a flat buffer, enough for `tapir stats` to walk
 * the counters a running tapir sends (GET /api/stats).
 *
 * A cursor moves over [p, end) and never reads outside it; the buffer need
 * not be NUL-terminated.  A mistake sets the sticky `bad` flag and leaves p
 * where it was noticed (for "near byte N"); every later call then fails
 * without moving (a string or number read is ""), so a caller tests `bad`
 * once after a run of calls.  It is lenient where the counters need no
 * rigour: numbers are any run of number characters, literals (true, false,
 * null) any run up to a delimiter, and a NUL byte counts as white space.
 * Nesting is capped at TP_JSON_MAX_DEPTH. */
#ifndef TP_SERVICE_JSON_SCAN_H
#define TP_SERVICE_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#define TP_JSON_MAX_DEPTH 64

struct tp_json_cur {
	const char *p, *end;
	bool bad;
	/* Open values: tp_json_skip's own, plus whatever the caller counts
	 * while it walks nested objects itself. */
	int depth;
};

/* A cursor at the start of len bytes of buf. */
void tp_json_init(struct tp_json_cur *c, const char *buf, size_t len);

/* Skip white space. */
void tp_json_ws(struct tp_json_cur *c);

/* After white space, whether the next byte is ch (nothing is consumed). */
bool tp_json_peek(struct tp_json_cur *c, char ch);

/* After white space, consume ch: true, or false and bad. */
bool tp_json_eat(struct tp_json_cur *c, char ch);

/* A string into out (n bytes, NUL-terminated when n > 0, "" on failure; a
 * longer string is cut); escapes are decoded, and a \u escape outside
 * printable ASCII becomes '?'.  false and bad when there is no whole
 * string. */
bool tp_json_str(struct tp_json_cur *c, char *out, size_t n);

/* After white space, whether a number starts here ('-' or a digit). */
bool tp_json_is_num(struct tp_json_cur *c);

/* The text of the number at the cursor into out (n bytes, cut, NUL-
 * terminated when n > 0); call after tp_json_is_num. */
void tp_json_num(struct tp_json_cur *c, char *out, size_t n);

/* Skip one value of any kind, nested ones included; bad on a malformed
 * value or nesting deeper than TP_JSON_MAX_DEPTH. */
void tp_json_skip(struct tp_json_cur *c);

#endif
