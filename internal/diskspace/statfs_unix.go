//go:build unix

package diskspace

import "golang.org/x/sys/unix"

// statfs reports the bytes free to unprivileged writers and the size of the
// file system holding dir.
func statfs(dir string) (free, total int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	bs := int64(st.Bsize) //nolint:unconvert // int32 or int64 by platform
	return int64(st.Bavail) * bs, int64(st.Blocks) * bs, nil
}
