/* Zeek's Software::parse and cmp_versions (app/software.c) against the
 * strings of Zeek's own test of them
 * (testing/btest/scripts/base/frameworks/software/version-parsing.zeek)
 * with the name and version Zeek expects of each, and the strings tapir
 * meets in SSH banners and HTTP headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "app/software.h"

#define U UINT64_MAX   /* not set */

struct want {
	const char *in;
	const char *name;
	uint64_t major, minor, minor2, minor3;
	const char *addl;   /* NULL: not set */
};

static const struct want zeek_cases[] = {
	{"OpenSSH_4.4", "OpenSSH", 4, 4, U, U, NULL},
	{"OpenSSH_5.2", "OpenSSH", 5, 2, U, U, NULL},
	{"Apache/2.0.63 (Unix) mod_auth_kerb/5.3 mod_ssl/2.0.63 "
	 "OpenSSL/0.9.7a mod_fastcgi/2.4.2", "Apache", 2, 0, 63, U, "Unix"},
	{"Apache/1.3.19 (Unix)", "Apache", 1, 3, 19, U, "Unix"},
	{"ProFTPD 1.2.5rc1 Server (Debian)", "ProFTPD", 1, 2, 5, U, "rc1"},
	{"wu-2.4.2-academ[BETA-18-VR14](1)", "wu", 2, 4, 2, U, "academ"},
	{"wu-2.6.2(1)", "wu", 2, 6, 2, U, "1"},
	{"Java1.2.2-JDeveloper", "Java", 1, 2, 2, U, "JDeveloper"},
	{"Java/1.6.0_13", "Java", 1, 6, 0, 13, NULL},
	{"Python-urllib/3.1", "Python-urllib", 3, 1, U, U, NULL},
	{"libwww-perl/5.820", "libwww-perl", 5, 820, U, U, NULL},
	{"Wget/1.9+cvs-stable (Red Hat modified)", "Wget", 1, 9, U, U,
	 "+cvs"},
	{"Wget/1.11.4 (Red Hat modified)", "Wget", 1, 11, 4, U,
	 "Red Hat modified"},
	{"curl/7.15.1 (i486-pc-linux-gnu) libcurl/7.15.1 OpenSSL/0.9.8a "
	 "zlib/1.2.3 libidn/0.5.18", "curl", 7, 15, 1, U,
	 "i486-pc-linux-gnu"},
	{"Apache", "Apache", U, U, U, U, NULL},
	{"Zope/(Zope 2.7.8-final, python 2.3.5, darwin) ZServer/1.1 "
	 "Plone/Unknown", "Zope/(Zope", 2, 7, 8, U, "final"},
	{"The Bat! (v2.00.9) Personal", "The Bat!", 2, 0, 9, U, "Personal"},
	{"Flash/10,2,153,1", "Flash", 10, 2, 153, 1, NULL},
	{"Flash%20Player/26.0.0.137 CFNetwork/811.5.4 Darwin/16.6.0 (x86_64)",
	 "Flash", 26, 0, 0, 137, "CFNetwork/811"},
	{"mt2/1.2.3.967 Oct 13 2010-13:40:24 ord-pixel-x2 pid 0x35a3 13731",
	 "mt2", 1, 2, 3, 967, "Oct"},
	{"CacheFlyServe v26b", "CacheFlyServe", 26, U, U, U, "b"},
	{"Apache/2.0.46 (Win32) mod_ssl/2.0.46 OpenSSL/0.9.7b mod_jk2/2.0.4",
	 "Apache", 2, 0, 46, U, "Win32"},
	{"Apple iPhone v4.3.1 Weather v1.0.0.8G4", "Apple iPhone", 4, 3, 1,
	 U, "Weather"},
	{"Mozilla/5.0 (iPhone; U; CPU iPhone OS 4_3_2 like Mac OS X; en-us) "
	 "AppleWebKit/533.17.9 (KHTML, like Gecko) Version/5.0.2 Mobile/8H7 "
	 "Safari/6533.18.5", "Safari", 5, 0, 2, U, "Mobile"},
	{"Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_6_7; en-US) "
	 "AppleWebKit/534.16 (KHTML, like Gecko) Chrome/10.0.648.205 "
	 "Safari/534.16", "Chrome", 10, 0, 648, 205, NULL},
	{"Opera/9.80 (Windows NT 6.1; U; sv) Presto/2.7.62 Version/11.01",
	 "Opera", 11, 1, U, U, NULL},
	{"Mozilla/5.0 (Windows; U; Windows NT 5.1; de; rv:1.9.2.11) "
	 "Gecko/20101013 Lightning/1.0b2 Thunderbird/3.1.5", "Thunderbird",
	 3, 1, 5, U, NULL},
	{"iTunes/9.0 (Macintosh; Intel Mac OS X 10.5.8) AppleWebKit/531.9",
	 "iTunes", 9, 0, U, U, "Macintosh"},
	{"Java1.3.1_04", "Java", 1, 3, 1, 4, NULL},
	{"Mozilla/5.0 (Linux; U; Android 2.3.3; zh-tw; HTC Pyramid "
	 "Build/GRI40) AppleWebKit/533.1 (KHTML, like Gecko) Version/4.0 "
	 "Mobile Safari/533.1", "Safari", 4, 0, U, U, "Mobile"},
	{"Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_6_6; en-us) "
	 "AppleWebKit/533.20.25 (KHTML, like Gecko) Version/5.0.4 "
	 "Safari/533.20.27", "Safari", 5, 0, 4, U, NULL},
	{"Mozilla/5.0 (iPod; U; CPU iPhone OS 4_0 like Mac OS X; en-us) "
	 "AppleWebKit/532.9 (KHTML, like Gecko) Version/4.0.5 Mobile/8A293 "
	 "Safari/6531.22.7", "Safari", 4, 0, 5, U, "Mobile"},
	{"Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera "
	 "Mobi/23.348; U; en) Presto/2.5.25 Version/10.54", "Opera Mini", 10,
	 54, U, U, NULL},
	{"Opera/9.80 (J2ME/MIDP; Opera Mini/5.0.18741/18.794; U; en) "
	 "Presto/2.4.15", "Opera Mini", 5, 0, 18741, U, NULL},
	{"Opera/9.80 (Windows NT 5.1; Opera Mobi/49; U; en) Presto/2.4.18 "
	 "Version/10.00", "Opera Mobi", 10, 0, U, U, NULL},
	{"Mozilla/4.0 (compatible; MSIE 8.0; Android 2.2.2; Linux; Opera "
	 "Mobi/ADR-1103311355; en) Opera 11.00", "Opera", 11, 0, U, U, NULL},
	{"Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.7.2) "
	 "Gecko/20040804 Netscape/7.2 (ax)", "Netscape", 7, 2, U, U, NULL},
	{"Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0; GTB5; SLCC1; "
	 ".NET CLR 2.0.50727; Media Center PC 5.0; .NET CLR 3.0.04506; "
	 "InfoPath.2)", "MSIE", 7, 0, U, U, NULL},
	{"Mozilla/4.0 (compatible; MSIE 7.0b; Windows NT 5.1; Media Center PC "
	 "3.0; .NET CLR 1.0.3705; .NET CLR 1.1.4322; .NET CLR 2.0.50727; "
	 "InfoPath.1)", "MSIE", 7, 0, U, U, "b"},
	{"Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0; "
	 "SLCC2; .NET CLR 2.0.50727; .NET CLR 3.5.30729; .NET CLR 3.0.30729; "
	 "Media Center PC 6.0; Tablet PC 2.0; InfoPath.2; InfoPath.3)",
	 "MSIE", 8, 0, U, U, NULL},
	{"Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; WOW64; "
	 "Trident/5.0)", "MSIE", 9, 0, U, U, NULL},
	{"Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.1; WOW64; "
	 "Trident/5.0; SLCC2; .NET CLR 2.0.50727; .NET CLR 3.5.30729; .NET "
	 "CLR 3.0.30729; Media Center PC 6.0; .NET4.0C; .NET4.0E; InfoPath.3; "
	 "Creative AutoUpdate v1.40.02)", "MSIE", 9, 0, U, U, NULL},
	{"Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; WOW64; "
	 "Trident/6.0)", "MSIE", 10, 0, U, U, NULL},
	{"Mozilla/5.0 (Windows NT 6.3; Trident/7.0; rv:11.0) like Gecko",
	 "MSIE", 11, 0, U, U, NULL},
	{"Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.3; Trident/7.0; "
	 ".NET4.0E; .NET4.0C)", "MSIE", 11, 0, U, U, NULL},
	{"The Bat! (3.0.1 RC3) Professional", "The Bat!", 3, 0, 1, U, "RC3"},
	{"Total Commander", "Total Commander", U, U, U, U, NULL},
	{"(vsFTPd 2.0.5)", "vsFTPd", 2, 0, 5, U, NULL},
	{"Apple Mail (2.1084)", "Apple Mail", 2, 1084, U, U, NULL},
	{"Mozilla/5.0 (Macintosh; U; PPC Mac OS X; en) AppleWebKit/420+ "
	 "(KHTML, like Gecko) AdobeAIR/1.0", "AdobeAIR", 1, 0, U, U, NULL},
	{"Mozilla/5.0 (Windows; U; en) AppleWebKit/420+ (KHTML, like Gecko) "
	 "AdobeAIR/1.0", "AdobeAIR", 1, 0, U, U, NULL},
	{"\\xe6\\xbc\\xab\\xe7\\x94\\xbb\\xe4\\xba\\xba 2.6.2 rv:1.2 (iPhone; "
	 "iOS 10.3.2; en_US)", "\xe6\xbc\xab\xe7\x94\xbb\xe4\xba\xba", 2, 6, 2,
	 U, "rv:1"},
	{"%E6%9C%89%E9%81%93%E8%AF%8D%E5%85%B8/128 CFNetwork/760.2.6 "
	 "Darwin/15.3.0 (x86_64)",
	 "\xe6\x9c\x89\xe9\x81\x93\xe8\xaf\x8d\xe5\x85\xb8", 128, U, U, U,
	 "CFNetwork/760"},
	{"QQ%E9%82%AE%E7%AE%B1/5.3.2.8 CFNetwork/811.5.4 Darwin/16.6.0",
	 "QQ\xe9\x82\xae\xe7\xae\xb1", 5, 3, 2, 8, "CFNetwork/811"},
	{"Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1) AppleWebKit/537.36 "
	 "(KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 "
	 "Edge/15.15063", "Edge", 15, 15063, U, U, NULL},
	{"A/8.0.0/Google/Pixel#XL/marlin/unknown/QCX3/l8100358318783302904/-/"
	 "1456904160/-/google/662107/662098/-", "Android (Google Pixel)", 8,
	 0, 0, U, NULL},
	{"A/8.1.0/Google/Pixel#2/walleye/unknown/QCX3/l10660929675510745862/-"
	 "/104360422/-/google/3606/3607/-", "Android (Google Pixel)", 8, 1, 0,
	 U, NULL},
	{"A/9/Google/Pixel#2/walleye/unknown/QCX3/l17463753539612639959/-/"
	 "2406658516/-/google/724998/724992/-", "Android (Google Pixel)", 9,
	 U, U, U, NULL},
};

/* What tapir meets: tracegen's banners and agents, Debian's servers. */
static const struct want wire_cases[] = {
	{"OpenSSH_8.9p1 Ubuntu-3ubuntu0.6", "OpenSSH", 8, 9, U, U, "p1"},
	{"OpenSSH_for_Windows_8.1", "OpenSSH_for_Windows", 8, 1, U, U, NULL},
	{"PuTTY_Release_0.80", "PuTTY_Release", 0, 80, U, U, NULL},
	{"dropbear_2022.83", "dropbear", 2022, 83, U, U, NULL},
	{"nginx/1.24.0", "nginx", 1, 24, 0, U, NULL},
	{"curl/8.4.0", "curl", 8, 4, 0, U, NULL},
	{"Go-http-client/1.1", "Go-http-client", 1, 1, U, U, NULL},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
	 "(KHTML, like Gecko) Chrome/120.0 Safari/537.36", "Chrome", 120, 0,
	 U, U, NULL},
	{"", "", U, U, U, U, NULL},
};

static void check(const struct want *w)
{
	struct tp_sw_desc d;
	tp_software_parse(w->in, &d);
	print_message("%s\n", w->in);
	assert_string_equal(d.name, w->name);
	const uint64_t want[4] = {w->major, w->minor, w->minor2, w->minor3};
	const uint64_t got[4] = {d.v.major, d.v.minor, d.v.minor2,
				 d.v.minor3};
	for (int i = 0; i < 4; i++) {
		bool have = d.v.have & (TP_SWV_MAJOR << i);
		assert_int_equal(have, want[i] != U);
		if (have)
			assert_int_equal(got[i], want[i]);
	}
	assert_int_equal(!!(d.v.have & TP_SWV_ADDL), w->addl != NULL);
	if (w->addl)
		assert_string_equal(d.v.addl, w->addl);
}

static void test_zeek_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(zeek_cases) / sizeof(zeek_cases[0]); i++)
		check(&zeek_cases[i]);
}

static void test_wire_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(wire_cases) / sizeof(wire_cases[0]); i++)
		check(&wire_cases[i]);
}

static void test_ssh_clean(void **state)
{
	char out[128];
	(void)state;
	tp_software_ssh_clean("SSH-2.0-OpenSSH_9.6", 1, out, sizeof(out));
	assert_string_equal(out, "OpenSSH_9.6");
	tp_software_ssh_clean("SSH-1.99-Cisco-1.25", 0, out, sizeof(out));
	assert_string_equal(out, "Cisco-1.25");
	/* The client's pattern is anchored in Zeek but, as Zeek's sub()
	 * tries it at every offset, it still finds "SSH-2.0-" after junk. */
	tp_software_ssh_clean("xSSH-2.0-libssh_0.9.6", 1, out, sizeof(out));
	assert_string_equal(out, "xlibssh_0.9.6");
}

static void test_cmp(void **state)
{
	struct tp_sw_desc a, b;
	(void)state;
	tp_software_parse("nginx/1.24.0", &a);
	tp_software_parse("nginx/1.24.1", &b);
	assert_int_equal(tp_software_cmp(&a.v, &b.v), -1);
	assert_int_equal(tp_software_cmp(&b.v, &a.v), 1);
	assert_int_equal(tp_software_cmp(&a.v, &a.v), 0);
	tp_software_parse("nginx/1.24", &b);
	/* A set minor2 is more than none. */
	assert_int_equal(tp_software_cmp(&a.v, &b.v), 1);
	tp_software_parse("OpenSSH_8.9p1 Ubuntu", &a);
	tp_software_parse("OpenSSH_8.9p2 Ubuntu", &b);
	assert_int_equal(tp_software_cmp(&a.v, &b.v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zeek_cases),
		cmocka_unit_test(test_wire_cases),
		cmocka_unit_test(test_ssh_clean),
		cmocka_unit_test(test_cmp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
