/* The log directory's lock: one tapir per set of logs.  flock(2) rather
 * than a pid file alone, so that a crashed tapir's lock goes with it; the
 * pid in the file is only there to name the holder. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/service.h"

#define LOCK_NAME ".tapir.lock"

/* mkdir -p: 0 or -errno, with the failing prefix left in path. */
static int make_dirs(char *path)
{
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (c == '\0')
			return 0;
	}
}

int tp_dir_lock(const char *dir, char *err, size_t errlen)
{
	char path[4096 + sizeof(LOCK_NAME) + 1];
	struct stat st;
	int fd, rc;

	if (!dir[0]) {
		snprintf(err, errlen, "log.dir is empty: give a directory");
		return -EINVAL;
	}
	if (strlen(dir) >= 4096) {
		snprintf(err, errlen, "log.dir is too long");
		return -ENAMETOOLONG;
	}
	snprintf(path, sizeof(path), "%s", dir);
	rc = make_dirs(path);
	if (rc == 0 && stat(dir, &st) < 0)
		rc = -errno;
	if (rc == 0 && !S_ISDIR(st.st_mode))
		rc = -ENOTDIR;
	if (rc < 0) {
		snprintf(err, errlen, "cannot create the log directory %s: %s",
			 path, strerror(-rc));
		return rc;
	}

	snprintf(path, sizeof(path), "%s/%s", dir, LOCK_NAME);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(-rc));
		return rc;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rc = -errno;
		if (rc == -EWOULDBLOCK) {
			char buf[32] = "";
			ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
			long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
			if (pid > 0)
				snprintf(err, errlen,
					 "another tapir (pid %ld) is running "
					 "on %s", pid, dir);
			else
				snprintf(err, errlen,
					 "another tapir is running on %s", dir);
			rc = -EBUSY;
		} else {
			snprintf(err, errlen, "cannot lock %s: %s", path,
				 strerror(-rc));
		}
		close(fd);
		return rc;
	}

	char pid[24];
	int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	errno = 0;
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
		rc = errno ? -errno : -EIO;
		snprintf(err, errlen, "cannot write %s: %s", path,
			 strerror(-rc));
		close(fd);
		return rc;
	}
	return fd;
}
