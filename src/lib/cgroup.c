/* SPDX-License-Identifier: MIT */
/*
 * cgroups v2: where the unified hierarchy is mounted (at /sys/fs/cgroup,
 * or /sys/fs/cgroup/unified on hybrid hosts), and a cgroup by its id. A
 * socket's cgroup id, as sock_diag reports it, is the inode of the
 * cgroup's directory, which is also its kernfs file handle: the directory
 * is opened in one call, without walking the tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The file handle type of kernfs (include/linux/exportfs.h). */
#define FILEID_KERNFS 0xfe

int cgroup_mount(char *buf, size_t size)
{
	return cgroup_mount_in("/proc/self/mountinfo", buf, size);
}

int cgroup_mount_in(const char *mountinfo, char *buf, size_t size)
{
	char line[1024];
	FILE *f = fopen(mountinfo, "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS... - FSTYPE SOURCE ..." */
	while (fgets(line, sizeof(line), f)) {
		char *dash = strstr(line, " - "), *mp;

		if (!dash || strncmp(dash + 3, "cgroup2 ", 8) != 0)
			continue;
		mp = line;
		for (int field = 0; field < 4 && mp; field++) {
			mp = strchr(mp, ' ');
			mp = mp ? mp + 1 : NULL;
		}
		if (!mp)
			continue;
		*strchrnul(mp, ' ') = '\0';
		snprintf(buf, size, "%s", mp);
		r = 0;
		break;
	}
	fclose(f);
	return r;
}

int cgroup_open(int mountfd, uint64_t id, int flags)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h;
	int fd;

	h.fh.handle_bytes = sizeof(id);
	h.fh.handle_type = FILEID_KERNFS;
	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(mountfd, &h.fh, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int cgroup_path(int mountfd, const char *mount, uint64_t id, char *buf,
		size_t size)
{
	char link[64], path[4096];
	size_t mlen = strlen(mount);
	ssize_t n;
	int fd = cgroup_open(mountfd, id, O_PATH | O_DIRECTORY);

	if (fd < 0)
		return fd;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	path[n] = '\0';
	/* Relative to the hierarchy's root, as /proc/PID/cgroup shows it. */
	if (strncmp(path, mount, mlen) != 0)
		return -EXDEV;
	snprintf(buf, size, "%s", path[mlen] ? path + mlen : "/");
	return 0;
}

int cgroup_pids(int mountfd, uint64_t id, int32_t **ret, size_t *ret_n)
{
	char *buf, *p, *end;
	int32_t *pids = NULL;
	size_t len, n = 0, cap = 0;
	int dfd, fd, r;

	dfd = cgroup_open(mountfd, id, O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return -errno;
	r = fileio_read_fd(NULL, fd, "cgroup.procs", 16u << 20, &buf, &len);
	close(fd);
	if (r < 0)
		return r;
	for (p = buf; *p; p = end) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		while (*end == '\n')
			end++;
		if (pid <= 0 || pid > INT32_MAX)
			continue;
		if (num_grow((void **)&pids, &cap, n, sizeof(*pids)) < 0) {
			free(pids);
			free(buf);
			return -ENOMEM;
		}
		pids[n++] = (int32_t)pid;
	}
	free(buf);
	*ret = pids;
	*ret_n = n;
	return 0;
}
