/* A small JSON reader over a flat buffer.  See json-scan.h. */
#include "service/json-scan.h"

#include <stdio.h>
#include <string.h>

void tp_json_init(struct tp_json_cur *c, const char *buf, size_t len)
{
	*c = (struct tp_json_cur){.p = buf, .end = buf + len};
}

void tp_json_ws(struct tp_json_cur *c)
{
	while (!c->bad && c->p < c->end && strchr(" \t\r\n", *c->p))
		c->p++;
}

bool tp_json_peek(struct tp_json_cur *c, char ch)
{
	tp_json_ws(c);
	return !c->bad && c->p < c->end && *c->p == ch;
}

bool tp_json_eat(struct tp_json_cur *c, char ch)
{
	if (!tp_json_peek(c, ch)) {
		c->bad = true;
		return false;
	}
	c->p++;
	return true;
}

bool tp_json_str(struct tp_json_cur *c, char *out, size_t n)
{
	size_t o = 0;

	/* Never left unwritten: callers print a key they failed to read. */
	if (n)
		out[0] = '\0';
	if (!tp_json_eat(c, '"'))
		return false;
	while (c->p < c->end && *c->p != '"') {
		char ch = *c->p++;
		if (ch == '\\' && c->p < c->end) {
			ch = *c->p++;
			switch (ch) {
			case 'n': ch = '\n'; break;
			case 't': ch = '\t'; break;
			case 'r': ch = '\r'; break;
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case 'u': {
				unsigned v = 0;
				for (int i = 0; i < 4 && c->p < c->end; i++) {
					char h = *c->p++;
					v = v * 16 + (unsigned)(h <= '9' ? h - '0'
							  : (h | 0x20) - 'a' + 10);
				}
				ch = v >= 0x20 && v < 0x7f ? (char)v : '?';
				break;
			}
			default: break; /* '"', '\\', '/' */
			}
		}
		if (o + 1 < n)
			out[o++] = ch;
	}
	if (n)
		out[o] = '\0';
	return tp_json_eat(c, '"');
}

bool tp_json_is_num(struct tp_json_cur *c)
{
	tp_json_ws(c);
	return !c->bad && c->p < c->end &&
	       (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'));
}

void tp_json_num(struct tp_json_cur *c, char *out, size_t n)
{
	const char *s = c->p;
	while (!c->bad && c->p < c->end && strchr("0123456789+-.eE", *c->p))
		c->p++;
	snprintf(out, n, "%.*s", (int)(c->p - s), s);
}

/* Recursive, one level per nested value: the depth cap bounds the stack. */
void tp_json_skip(struct tp_json_cur *c)
{
	char tmp[2];

	tp_json_ws(c);
	if (c->bad || c->p >= c->end || ++c->depth > TP_JSON_MAX_DEPTH) {
		c->bad = true;
		return;
	}
	if (*c->p == '"') {
		tp_json_str(c, tmp, sizeof(tmp));
	} else if (*c->p == '{' || *c->p == '[') {
		char close = *c->p == '{' ? '}' : ']';
		c->p++;
		while (!c->bad && !tp_json_peek(c, close)) {
			if (close == '}') {
				tp_json_str(c, tmp, sizeof(tmp));
				tp_json_eat(c, ':');
			}
			tp_json_skip(c);
			if (!tp_json_peek(c, close))
				tp_json_eat(c, ',');
		}
		tp_json_eat(c, close);
	} else {
		const char *s = c->p;
		while (c->p < c->end && !strchr(",]} \t\r\n", *c->p))
			c->p++;
		if (c->p == s)
			c->bad = true;
	}
	c->depth--;
}
