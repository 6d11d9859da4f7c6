/* Zeek's Software::parse and cmp_versions (base/frameworks/software/
 * main.zeek), step for step, so that software.log names and versions are
 * the ones Zeek logs for the same User-Agent, Server or SSH banner.
 *
 *   "Apache/2.0.63 (Unix) mod_ssl/2.0.63"
 *    └─name─┘└─version─┘└──rest──────────
 *          split at the first /([\/\-_]|( [\(v]+))?[0-9\-\._, ]{2,}/;
 *          version split at [\-\._,\[\(\{ ] into major.minor.minor2.minor3;
 *          addl from the rest (a parenthesised word, else its first word)
 *
 * Browser strings ("Mozilla/5.0 ...", "Opera/9.80 ...") go through Zeek's
 * parse_mozilla with its special cases (Opera, MSIE and Trident, Edge,
 * Safari, Firefox/Netscape/Thunderbird, Chrome, Opera Mini/Mobi, Flash,
 * AdobeAIR, WebKit, Java), and "A/x.y/Google/Pixel..." is Android.
 *
 * The regular expressions are Zeek's, in POSIX ERE (glibc regex.h, whose
 * matches are leftmost-longest as Zeek's).  Zeek's split_string and sub
 * look for a match with MatchPrefix at each offset in turn, so that a '^'
 * in their pattern matches at every offset, not only at the start: find()
 * does the same; `in` (pattern in string) anchors '^' at the start only. */
#include "app/software.h"

#include <ctype.h>
#include <pthread.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

enum {
	RE_MOZ, RE_PIXEL, RE_BSX, RE_VSPLIT, RE_JUNK_END, RE_JUNK,
	RE_LPAREN_START, RE_LPAREN, RE_SV_LEAD, RE_SV_LEAD_SUB, RE_NUMSEP,
	RE_ADDL_PAREN, RE_PARENS, RE_ADDL_SEP, RE_SLASH, RE_DIGITS,
	RE_OPERA_END, RE_MSIE_IN, RE_TRIDENT4, RE_TRIDENT5, RE_TRIDENT6,
	RE_TRIDENT7, RE_MSIE, RE_EDGE, RE_SAFARI_IN, RE_VERSION, RE_MOBILE,
	RE_FIREFOX, RE_CHROME_IN, RE_CHROME, RE_OPERA_START, RE_OPERA_MINI,
	RE_OPERA_MINI_IN, RE_OPERA_MINI_VER, RE_FLASH_IN, RE_SLASH_SPACE,
	RE_AIR, RE_WEBKIT, RE_JAVA_IN, RE_JAVA, RE_SSH_CLIENT, RE_SSH_SERVER,
	RE_N,
};

/* Zeek's patterns; inside brackets ERE takes no backslash escapes, so
 * Zeek's [\/\-_] is written [/_-]. */
static const char *const re_src[RE_N] = {
	[RE_MOZ] = "^(Mozilla|Opera)/[0-9]+\\.",
	[RE_PIXEL] = "A/[0-9.]*/Google/Pixel",
	[RE_BSX] = "\\\\x",
	[RE_VSPLIT] = "([/_-]|( [(v]+))?[0-9._, -]{2,}",
	[RE_JUNK_END] = "([/_-]|( [(v]+))$",
	[RE_JUNK] = "([/_-]|( [(v]+))",
	[RE_LPAREN_START] = "^\\(",
	[RE_LPAREN] = "\\(",
	[RE_SV_LEAD] = "^[/._v(-]",
	[RE_SV_LEAD_SUB] = "^\\(?[/._v(-]",
	[RE_NUMSEP] = "[._,[({ -]",
	[RE_ADDL_PAREN] = "^[[:blank:]]*\\([a-zA-Z0-9._[:blank:]-]*\\)",
	[RE_PARENS] = "[()]",
	[RE_ADDL_SEP] = "[]._,;[(){} -]",
	[RE_SLASH] = "/",
	[RE_DIGITS] = "[0-9]+",
	[RE_OPERA_END] = "Opera [0-9.]*$",
	[RE_MSIE_IN] = " MSIE |Trident/",
	[RE_TRIDENT4] = "Trident/4\\.0",
	[RE_TRIDENT5] = "Trident/5\\.0",
	[RE_TRIDENT6] = "Trident/6\\.0",
	[RE_TRIDENT7] = "Trident/7\\.0",
	[RE_MSIE] = "MSIE [0-9]{1,2}\\.*[0-9]*b?[0-9]*",
	[RE_EDGE] = "Edge/[0-9.]*",
	[RE_SAFARI_IN] = "Version/.*Safari/",
	[RE_VERSION] = "Version/[0-9.]*",
	[RE_MOBILE] = " Mobile/?.* Safari",
	[RE_FIREFOX] = "(Firefox|Netscape|Thunderbird)/[0-9.]*",
	[RE_CHROME_IN] = "Chrome/.*Safari/",
	[RE_CHROME] = "Chrome/[0-9.]*",
	[RE_OPERA_START] = "^Opera/",
	[RE_OPERA_MINI] = "Opera M(ini|obi)",
	[RE_OPERA_MINI_IN] = "Opera M(ini|obi)/",
	[RE_OPERA_MINI_VER] = "Opera Mini/[0-9.]*",
	[RE_FLASH_IN] = "Flash%20Player",
	[RE_SLASH_SPACE] = "[/ ]",
	[RE_AIR] = "AdobeAIR/[0-9.]*",
	[RE_WEBKIT] = "AppleWebKit/[0-9.]*",
	[RE_JAVA_IN] = " Java/[0-9]\\.",
	[RE_JAVA] = "Java/[0-9._]*",
	[RE_SSH_CLIENT] = "^SSH[0-9.-]+",
	[RE_SSH_SERVER] = "SSH[0-9.-]{2,}",
};

static regex_t res[RE_N];
static bool re_ok;
static pthread_once_t re_once = PTHREAD_ONCE_INIT;

static void re_init(void)
{
	for (int i = 0; i < RE_N; i++)
		if (regcomp(&res[i], re_src[i], REG_EXTENDED) != 0) {
			tp_log_error("software: cannot compile pattern %d", i);
			return;
		}
	re_ok = true;
}

struct span {
	const char *s;
	size_t n;
};

/* Does re match anywhere in s ('^' at its start only)? */
static bool in(int re, struct span s)
{
	regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)s.n};
	return regexec(&res[re], s.s, 1, &m, REG_STARTEND) == 0;
}

/* Zeek's search of split_string and sub: the first offset where re
 * matches a prefix of what follows (a '^' matches there), the longest
 * such match.  Empty matches do not count. */
static bool find(int re, struct span s, size_t *so, size_t *eo)
{
	bool caret = re_src[re][0] == '^';
	for (size_t j = 0; j < s.n; j++) {
		regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)(s.n - j)};
		if (regexec(&res[re], s.s + j, 1, &m, REG_STARTEND) != 0) {
			if (!caret)
				return false;
			continue;
		}
		if (m.rm_eo > m.rm_so && (m.rm_so == 0 || !caret)) {
			*so = j + (size_t)m.rm_so;
			*eo = j + (size_t)m.rm_eo;
			return true;
		}
		if (!caret)
			j += (size_t)m.rm_so;  /* past an empty match */
	}
	return false;
}

#define MAX_PARTS 64

/* Zeek's split_string_n(s, re, incl_sep, max) (max 0: split_string_all):
 * the pieces, with the separators between them when incl.  Returns how
 * many (at least one). */
static size_t split(int re, struct span s, bool incl, size_t max,
		    struct span *out)
{
	size_t k = 0, nsep = 0;
	for (;;) {
		size_t so, eo;
		if ((max && nsep >= max) || k + 3 > MAX_PARTS ||
		    !find(re, s, &so, &eo)) {
			out[k++] = s;
			return k;
		}
		out[k++] = (struct span){s.s, so};
		if (incl)
			out[k++] = (struct span){s.s + so, eo - so};
		nsep++;
		s.s += eo;
		s.n -= eo;
	}
}

static struct span strip(struct span s)
{
	while (s.n && isspace((unsigned char)s.s[0])) {
		s.s++;
		s.n--;
	}
	while (s.n && isspace((unsigned char)s.s[s.n - 1]))
		s.n--;
	return s;
}

/* sub(s, re, ""): the first match removed, into buf (s.n + 1 bytes). */
static struct span sub(int re, struct span s, char *buf)
{
	size_t so, eo;
	if (!find(re, s, &so, &eo)) {
		memcpy(buf, s.s, s.n);
		return (struct span){buf, s.n};
	}
	memcpy(buf, s.s, so);
	memcpy(buf + so, s.s + eo, s.n - eo);
	return (struct span){buf, s.n - (eo - so)};
}

/* extract_count: the first run of digits, 0 if none (saturated). */
static uint64_t extract_count(struct span s)
{
	size_t so, eo;
	uint64_t v = 0;
	if (!find(RE_DIGITS, s, &so, &eo))
		return 0;
	for (size_t i = so; i < eo; i++) {
		uint64_t d = (uint64_t)(s.s[i] - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	return v;
}

static void set_str(char *dst, size_t cap, struct span s)
{
	size_t n = s.n < cap - 1 ? s.n : cap - 1;
	memcpy(dst, s.s, n);
	dst[n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* gsub(s, /\\x/, "%") then unescape_URI (%XX), into buf (s.n + 1). */
static struct span clean(struct span s, char *buf)
{
	char tmp[TP_SW_PARSE_MAX + 1];
	size_t n = 0, k = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (s.s[i] == '\\' && i + 1 < s.n && s.s[i + 1] == 'x') {
			tmp[n++] = '%';
			i++;
		} else {
			tmp[n++] = s.s[i];
		}
	}
	for (size_t i = 0; i < n; i++) {
		int h, l;
		if (tmp[i] == '%' && i + 2 < n &&
		    (h = hexval(tmp[i + 1])) >= 0 &&
		    (l = hexval(tmp[i + 2])) >= 0) {
			buf[k++] = (char)(h << 4 | l);
			i += 2;
		} else {
			buf[k++] = tmp[i];
		}
	}
	return (struct span){buf, k};
}

static void parse(struct span u, struct tp_sw_desc *d, int depth);

/* The version of parse(s). */
static void version_of(struct span s, struct tp_sw_version *v, int depth)
{
	struct tp_sw_desc t;
	parse(s, &t, depth + 1);
	*v = t.v;
}

static void name_is(struct tp_sw_desc *d, const char *name)
{
	snprintf(d->name, sizeof(d->name), "%s", name);
}

/* One of parse_mozilla's plain cases: when pattern `when` is in u, the
 * name is `name` and the version that of piece idx of u split at
 * `at`. */
static bool plain(struct span u, int when, const char *name, int at,
		  size_t idx, struct tp_sw_desc *d, int depth)
{
	struct span parts[MAX_PARTS];
	if (!in(when, u))
		return false;
	name_is(d, name);
	if (split(at, u, true, 0, parts) > idx)
		version_of(parts[idx], &d->v, depth);
	return true;
}

/* Zeek's parse_mozilla: its cases in its order. */
static void parse_mozilla(struct span u, struct tp_sw_desc *d, int depth)
{
	struct span parts[MAX_PARTS];
	struct tp_sw_version *v = &d->v;
	static const int tri[4] = {RE_TRIDENT4, RE_TRIDENT5, RE_TRIDENT6,
				   RE_TRIDENT7};

	name_is(d, "<unknown browser>");
	if (plain(u, RE_OPERA_END, "Opera", RE_OPERA_END, 1, d, depth))
		return;
	if (in(RE_MSIE_IN, u)) {
		for (int i = 0; i < 4; i++)
			if (in(tri[i], u)) {
				name_is(d, "MSIE");
				v->have = TP_SWV_MAJOR | TP_SWV_MINOR;
				v->major = 8 + (uint64_t)i;
				v->minor = 0;
				return;
			}
		plain(u, RE_MSIE_IN, "MSIE", RE_MSIE, 1, d, depth);
		return;
	}
	if (plain(u, RE_EDGE, "Edge", RE_EDGE, 1, d, depth))
		return;
	if (plain(u, RE_SAFARI_IN, "Safari", RE_VERSION, 1, d, depth)) {
		if (in(RE_MOBILE, u)) {
			v->have |= TP_SWV_ADDL;
			snprintf(v->addl, sizeof(v->addl), "Mobile");
		}
		return;
	}
	if (in(RE_FIREFOX, u)) {
		if (split(RE_FIREFOX, u, true, 0, parts) > 1)
			parse(parts[1], d, depth + 1);
		return;
	}
	if (plain(u, RE_CHROME_IN, "Chrome", RE_CHROME, 1, d, depth))
		return;
	if (in(RE_OPERA_START, u)) {
		if (!in(RE_OPERA_MINI_IN, u)) {
			plain(u, RE_OPERA_START, "Opera", RE_VERSION, 1, d,
			      depth);
			return;
		}
		if (split(RE_OPERA_MINI, u, true, 0, parts) > 1)
			set_str(d->name, sizeof(d->name), parts[1]);
		if (split(RE_VERSION, u, true, 0, parts) > 1 ||
		    split(RE_OPERA_MINI_VER, u, true, 0, parts) > 1)
			version_of(parts[1], v, depth);
		return;
	}
	if (plain(u, RE_FLASH_IN, "Flash", RE_SLASH_SPACE, 2, d, depth) ||
	    plain(u, RE_AIR, "AdobeAIR", RE_AIR, 1, d, depth) ||
	    plain(u, RE_WEBKIT, "Unspecified WebKit", RE_WEBKIT, 1, d,
		  depth))
		return;
	plain(u, RE_JAVA_IN, "Java", RE_JAVA, 1, d, depth);
}

/* Zeek's parse. */
static void parse(struct span u, struct tp_sw_desc *d, int depth)
{
	struct span vp[MAX_PARTS], parts[MAX_PARTS];
	struct tp_sw_version *v = &d->v;
	char cbuf[TP_SW_PARSE_MAX + 1], b1[TP_SW_PARSE_MAX + 1];
	char b2[TP_SW_PARSE_MAX + 1];

	memset(d, 0, sizeof(*d));
	name_is(d, "<parse error>");
	if (depth > 4 || !re_ok)
		return;
	if (u.n > TP_SW_PARSE_MAX)
		u.n = TP_SW_PARSE_MAX;
	if (in(RE_MOZ, u)) {
		parse_mozilla(u, d, depth);
		return;
	}
	if (in(RE_PIXEL, u)) {
		name_is(d, "Android (Google Pixel)");
		if (split(RE_SLASH, u, true, 0, parts) > 2) {
			struct span vs = parts[2];
			if (memchr(vs.s, '.', vs.n)) {
				version_of(vs, v, depth);
			} else {
				v->have = TP_SWV_MAJOR;
				v->major = extract_count(vs);
			}
		}
		return;
	}
	struct span c = clean(u, cbuf);
	size_t nv = split(RE_VSPLIT, c, true, 1, vp);
	struct span p0 = vp[0];
	if (in(RE_JUNK_END, p0))
		p0 = strip(sub(RE_JUNK, p0, b1));
	if (in(RE_LPAREN_START, p0))
		set_str(d->name, sizeof(d->name), strip(sub(RE_LPAREN, p0, b2)));
	else
		set_str(d->name, sizeof(d->name), strip(p0));
	if (nv >= 2) {
		struct span sv = strip(vp[1]);
		if (in(RE_SV_LEAD, sv))
			sv = strip(sub(RE_SV_LEAD_SUB, vp[1], b1));
		struct span nums[MAX_PARTS];
		size_t nn = split(RE_NUMSEP, sv, false, 3, nums);
		/* Zeek's test of version_numbers[4] can never hold: at most
		 * three separators give four numbers. */
		if (nv > 2 && vp[2].n && !(vp[2].n == 1 && vp[2].s[0] == ')')) {
			struct span a;
			if (in(RE_ADDL_PAREN, vp[2])) {
				split(RE_PARENS, vp[2], false, 2, parts);
				a = parts[1];
			} else {
				size_t k = split(RE_ADDL_SEP, vp[2], false, 3,
						 parts);
				if (k >= 1 && parts[0].n)
					a = strip(parts[0]);
				else if (k >= 2 && parts[1].n)
					a = strip(parts[1]);
				else if (k >= 3 && parts[2].n)
					a = strip(parts[2]);
				else
					a = strip(vp[2]);
			}
			v->have |= TP_SWV_ADDL;
			set_str(v->addl, sizeof(v->addl), a);
		}
		uint64_t *num[4] = {&v->major, &v->minor, &v->minor2,
				    &v->minor3};
		for (size_t i = 0; i < 4 && i < nn; i++)
			if (nums[i].n) {
				v->have |= TP_SWV_MAJOR << i;
				*num[i] = extract_count(nums[i]);
			}
	}
	/* Zeek's alternate_names. */
	if (strcmp(d->name, "Flash Player") == 0)
		name_is(d, "Flash");
}

void tp_software_parse(const char *s, struct tp_sw_desc *d)
{
	pthread_once(&re_once, re_init);
	parse((struct span){s, strlen(s)}, d, 0);
}

static int cmp_u(unsigned have_a, unsigned have_b, unsigned bit, uint64_t a,
		 uint64_t b)
{
	bool ha = have_a & bit, hb = have_b & bit;
	if (ha && hb)
		return a < b ? -1 : a > b ? 1 : 0;
	if (!ha && !hb)
		return 0;
	return ha ? 1 : -1;
}

int tp_software_cmp(const struct tp_sw_version *a,
		    const struct tp_sw_version *b)
{
	int c;
	if ((c = cmp_u(a->have, b->have, TP_SWV_MAJOR, a->major, b->major)) ||
	    (c = cmp_u(a->have, b->have, TP_SWV_MINOR, a->minor, b->minor)) ||
	    (c = cmp_u(a->have, b->have, TP_SWV_MINOR2, a->minor2,
		       b->minor2)) ||
	    (c = cmp_u(a->have, b->have, TP_SWV_MINOR3, a->minor3, b->minor3)))
		return c;
	bool ha = a->have & TP_SWV_ADDL, hb = b->have & TP_SWV_ADDL;
	if (ha && hb) {
		c = strcmp(a->addl, b->addl);
		return c < 0 ? -1 : c > 0;
	}
	if (!ha && !hb)
		return 0;
	return ha ? 1 : -1;
}

void tp_software_ssh_clean(const char *banner, int client, char *out,
			   size_t n)
{
	char buf[TP_SW_PARSE_MAX + 1];
	struct span s = {banner, strlen(banner)};
	pthread_once(&re_once, re_init);
	if (s.n > TP_SW_PARSE_MAX)
		s.n = TP_SW_PARSE_MAX;
	if (re_ok)
		s = sub(client ? RE_SSH_CLIENT : RE_SSH_SERVER, s, buf);
	set_str(out, n, s);
}
