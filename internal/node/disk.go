package node

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/diskspace"
	"github.com/peer-node/peer/internal/kv/pebblekv"
)

// openDisk starts budgeting the disk under the data directory, before the
// embedded store opens: on a disk already full the ballast goes first, so
// that the store has room to open.
func (n *Node) openDisk() (err error) {
	mb := func(v int) int64 { return int64(v) << 20 }
	ballast := mb(n.cfg.Store.BallastMB)
	if n.cfg.Store.BallastMB < 0 {
		ballast = -1
	}
	n.space, err = diskspace.Open(diskspace.Options{
		Dir: n.dir, Reserve: mb(n.cfg.Store.ReserveMB), Warn: mb(n.cfg.Store.WarnFreeMB), Ballast: ballast,
		Logger: n.log.With("part", "disk"),
		OnChange: func(_, cur diskspace.Status) {
			n.bus.Publish("disk."+cur.Level.String(), diskStatus(cur))
		},
	})
	return err
}

// storeOptions are the embedded store's options: read-only when the disk
// has too little room to open it for writing (opening replays the
// write-ahead log into new tables, and on a full disk that never ends).
func (n *Node) storeOptions() pebblekv.Options {
	opts := pebblekv.Options{CacheSize: int64(n.cfg.Store.CacheMB) << 20}
	dir := filepath.Join(n.dir, StoreDir)
	var wal int64
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".log") {
				wal += fi.Size()
			}
		}
	} else {
		return opts // a new store: nothing to replay
	}
	if free := n.space.Free(); free < wal+minOpenRoom {
		opts.ReadOnly = n.space.ReadOnly()
		n.log.Warn("disk full: opening the store read-only; reads are served, every write is refused until the node restarts with room",
			"free", diskspace.Bytes(free), "needs", diskspace.Bytes(wal+minOpenRoom))
	}
	return opts
}

// minOpenRoom is the room, besides the write-ahead log it replays, that
// opening the embedded store for writing needs.
const minOpenRoom = 4 << 20

// watchDisk measures the disk every interval, so that a disk filled by
// other programs raises its event and releases the ballast even when the
// node writes nothing.
func (n *Node) watchDisk(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.space.Status()
		}
	}
}

// apiDisk is the disk as the node budgets it, for the status answer.
func (n *Node) apiDisk() *apiv1.Disk {
	st := n.space.Status()
	return &apiv1.Disk{Level: st.Level.String(), Free: st.Free, Total: st.Total, Reserve: st.Reserve, Warn: st.Warn, ReadOnly: st.ReadOnly}
}

// diskStatus is the payload of disk.* events.
func diskStatus(st diskspace.Status) map[string]any {
	return map[string]any{"level": st.Level.String(), "free": st.Free, "total": st.Total, "reserve": st.Reserve, "warn": st.Warn}
}
