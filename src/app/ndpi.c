/* Flow classification with nDPI 4.2 (ndpi_api.h).  The API moves between
 * nDPI releases (4.4 changed ndpi_detection_giveup, 4.6 the risk
 * structures), so the code is built only against 4.2 (meson checks the
 * version; the guard below checks the headers it got). */
#include "app/ndpi.h"

#include <ctype.h>
#include <string.h>

#include "util/mem.h"

#if defined(TP_HAVE_NDPI)
#include <ndpi/ndpi_api.h>
#if NDPI_MAJOR != 4 || NDPI_MINOR != 2
#undef TP_HAVE_NDPI
#endif
#endif

#if defined(TP_HAVE_NDPI)

struct tp_ndpi {
	struct ndpi_detection_module_struct *mod;
	uint32_t flow_size;
};

/* nDPI's name → Zeek's service name, where Zeek has an analyzer. */
static const struct {
	const char *ndpi, *zeek;
} zeek_names[] = {
	{"HTTP", "http"},        {"HTTP_Proxy", "http"},
	{"HTTP_Connect", "http"}, {"DNS", "dns"},
	{"TLS", "ssl"},          {"DTLS", "dtls"},
	{"SSH", "ssh"},          {"FTP_CONTROL", "ftp"},
	{"FTP_DATA", "ftp-data"}, {"SMTP", "smtp"},
	{"SMTPS", "ssl"},        {"POP3", "pop3"},
	{"IMAP", "imap"},        {"NTP", "ntp"},
	{"DHCP", "dhcp"},        {"DHCPV6", "dhcpv6"},
	{"SNMP", "snmp"},        {"SIP", "sip"},
	{"RDP", "rdp"},          {"SMBv1", "smb"},
	{"SMBv23", "smb"},       {"MySQL", "mysql"},
	{"IRC", "irc"},          {"Radius", "radius"},
	{"Kerberos", "krb"},     {"Syslog", "syslog"},
	{"QUIC", "quic"},        {"Modbus", "modbus"},
	{"DNP3", "dnp3"},        {"MQTT", "mqtt"},
	{"LDAP", "ldap"},        {"NetBIOS", "netbios"},
	{"VNC", "vnc"},          {"Socks", "socks"},
	{"MDNS", "dns"},         {"LLMNR", "dns"},
};

bool tp_ndpi_available(void)
{
	return true;
}

struct tp_ndpi *tp_ndpi_new(void)
{
	struct tp_ndpi *nd = tp_calloc(1, sizeof(*nd));
	if (!nd)
		return NULL;
	nd->mod = ndpi_init_detection_module(ndpi_no_prefs);
	if (!nd->mod) {
		tp_free(nd, sizeof(*nd));
		return NULL;
	}
	NDPI_PROTOCOL_BITMASK all;
	NDPI_BITMASK_SET_ALL(all);
	ndpi_set_protocol_detection_bitmask2(nd->mod, &all);
	ndpi_finalize_initialization(nd->mod);
	nd->flow_size = ndpi_detection_get_sizeof_ndpi_flow_struct();
	return nd;
}

void tp_ndpi_free(struct tp_ndpi *nd)
{
	if (!nd)
		return;
	ndpi_exit_detection_module(nd->mod);
	tp_free(nd, sizeof(*nd));
}

/* The flow struct, with its size in front for tp_free. */
struct tp_ndpi_flow {
	uint32_t size;
	_Alignas(16) struct ndpi_flow_struct f;
};

struct tp_ndpi_flow *tp_ndpi_flow_new(struct tp_ndpi *nd)
{
	size_t n = offsetof(struct tp_ndpi_flow, f) + nd->flow_size;
	struct tp_ndpi_flow *fl = tp_calloc(1, n);
	if (fl)
		fl->size = (uint32_t)n;
	return fl;
}

void tp_ndpi_flow_free(struct tp_ndpi_flow *fl)
{
	if (!fl)
		return;
	ndpi_free_flow_data(&fl->f);
	tp_free(fl, fl->size);
}

bool tp_ndpi_packet(struct tp_ndpi *nd, struct tp_ndpi_flow *fl,
		    const uint8_t *b, uint32_t n, uint64_t ts_ns)
{
	if (n > 0xffff)
		n = 0xffff;
	ndpi_protocol r = ndpi_detection_process_packet(
		nd->mod, &fl->f, b, (unsigned short)n, ts_ns / 1000000);
	if (r.master_protocol == NDPI_PROTOCOL_UNKNOWN &&
	    r.app_protocol == NDPI_PROTOCOL_UNKNOWN)
		return false;
	return !ndpi_extra_dissection_possible(nd->mod, &fl->f);
}

static void service_name(struct tp_ndpi *nd, uint16_t id, char *svc, size_t n)
{
	const char *name = ndpi_get_proto_name(nd->mod, id);
	svc[0] = 0;
	if (!name || id == NDPI_PROTOCOL_UNKNOWN)
		return;
	for (size_t i = 0; i < sizeof(zeek_names) / sizeof(zeek_names[0]);
	     i++)
		if (strcmp(zeek_names[i].ndpi, name) == 0) {
			name = zeek_names[i].zeek;
			break;
		}
	size_t k = 0;
	for (; name[k] && k + 1 < n; k++)
		svc[k] = (char)tolower((unsigned char)name[k]);
	svc[k] = 0;
}

void tp_ndpi_result(struct tp_ndpi *nd, struct tp_ndpi_flow *fl, bool giveup,
		    char *svc, size_t n, uint64_t *risk)
{
	ndpi_protocol r = {
		.master_protocol = fl->f.detected_protocol_stack[1],
		.app_protocol = fl->f.detected_protocol_stack[0],
	};
	/* Without guessing: what nDPI found without a port guess. */
	if (giveup && r.app_protocol == NDPI_PROTOCOL_UNKNOWN &&
	    r.master_protocol == NDPI_PROTOCOL_UNKNOWN) {
		uint8_t guessed = 0;
		r = ndpi_detection_giveup(nd->mod, &fl->f, 0, &guessed);
	}
	/* The master protocol is the one Zeek names (TLS of TLS.Google). */
	uint16_t id = r.master_protocol != NDPI_PROTOCOL_UNKNOWN
			      ? r.master_protocol
			      : r.app_protocol;
	service_name(nd, id, svc, n);
	*risk = fl->f.risk;
}

size_t tp_ndpi_risk_names(uint64_t risk, const char **names, size_t max)
{
	size_t k = 0;
	for (unsigned i = 1; i < NDPI_MAX_RISK && i < 64 && k < max; i++)
		if (risk & (1ull << i))
			names[k++] = ndpi_risk2str((ndpi_risk_enum)i);
	return k;
}

#else /* no nDPI 4.2 in this build */

bool tp_ndpi_available(void)
{
	return false;
}

struct tp_ndpi *tp_ndpi_new(void)
{
	return NULL;
}

void tp_ndpi_free(struct tp_ndpi *nd)
{
	(void)nd;
}

struct tp_ndpi_flow *tp_ndpi_flow_new(struct tp_ndpi *nd)
{
	(void)nd;
	return NULL;
}

void tp_ndpi_flow_free(struct tp_ndpi_flow *fl)
{
	(void)fl;
}

bool tp_ndpi_packet(struct tp_ndpi *nd, struct tp_ndpi_flow *fl,
		    const uint8_t *b, uint32_t n, uint64_t ts_ns)
{
	(void)nd, (void)fl, (void)b, (void)n, (void)ts_ns;
	return true;
}

void tp_ndpi_result(struct tp_ndpi *nd, struct tp_ndpi_flow *fl, bool giveup,
		    char *svc, size_t n, uint64_t *risk)
{
	(void)nd, (void)fl, (void)giveup;
	if (n)
		svc[0] = 0;
	*risk = 0;
}

size_t tp_ndpi_risk_names(uint64_t risk, const char **names, size_t max)
{
	(void)risk, (void)names, (void)max;
	return 0;
}

#endif
