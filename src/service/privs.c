/* Dropping root once the sockets are open.  Raw and packet sockets and
 * ports below 1024 need root (or capabilities) to open, not to use, so
 * `tapir run` opens everything as root and then becomes run.user; the
 * setuid() from root to another user also clears every capability.
 *
 * glibc applies setuid/setgid/setgroups to every thread of the process, so
 * the service threads started before are covered. */
#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/service.h"

/* nftw passes no argument to its callback. */
static struct {
	uid_t uid;
	gid_t gid;
	int err;
	char path[512];
} give;

static int give_one(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	/* The directory itself, and inside it only what root made (the logs
	 * and the lock of a tapir that ran as root): a file of another user
	 * is not ours to take, and a symbolic link is never followed. */
	if (type == FTW_SL || type == FTW_SLN ||
	    (ftw->level > 0 && st->st_uid != 0))
		return 0;
	if (type != FTW_F && type != FTW_D && type != FTW_DP)
		return 0;
	if (lchown(path, give.uid, give.gid) < 0) {
		give.err = errno;
		snprintf(give.path, sizeof(give.path), "%s", path);
		return 1;
	}
	return 0;
}

int tp_drop_privileges(const char *user, const char *dir, char *err,
		       size_t errlen)
{
	struct passwd pw, *pwp = NULL;
	char buf[4096];

	if (!user || !user[0] || geteuid() != 0)
		return 0;
	int rc = getpwnam_r(user, &pw, buf, sizeof(buf), &pwp);
	if (rc || !pwp) {
		if (rc)
			snprintf(err, errlen, "run.user '%s': %s", user,
				 strerror(rc));
		else
			snprintf(err, errlen,
				 "run.user '%s': no such user on this system; "
				 "create it (systemd-sysusers tapir.sysusers, "
				 "or useradd --system --no-create-home %s), "
				 "or set run.user to \"\" to stay root",
				 user, user);
		return rc ? -rc : -ENOENT;
	}
	if (pw.pw_uid == 0)
		return 0;

	if (dir && dir[0]) {
		give.uid = pw.pw_uid;
		give.gid = pw.pw_gid;
		give.err = 0;
		if (nftw(dir, give_one, 16, FTW_PHYS | FTW_MOUNT) != 0) {
			int e = give.err ? give.err : errno;
			snprintf(err, errlen, "cannot give %s to user %s: %s",
				 give.err ? give.path : dir, user, strerror(e));
			return -e;
		}
	}

	if (initgroups(user, pw.pw_gid) < 0 || setgid(pw.pw_gid) < 0 ||
	    setuid(pw.pw_uid) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot become user %s: %s", user,
			 strerror(e));
		return -e;
	}
	/* Belt and braces: root must be gone for good. */
	if (setuid(0) == 0 || getuid() != pw.pw_uid ||
	    geteuid() != pw.pw_uid || getegid() != pw.pw_gid) {
		snprintf(err, errlen,
			 "became user %s but could regain root: refusing to "
			 "run", user);
		return -EPERM;
	}
	/* setuid() made us undumpable, which makes /proc/self root's;
	 * we are an ordinary process of user now. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return 0;
}
