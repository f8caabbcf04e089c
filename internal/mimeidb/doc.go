// Package mimeidb is the database space of a MiMei: a small Redis-like
// database (strings, hashes, lists, sets and sorted sets with float64
// scores) stored under a key prefix of a shared kv.Store, so that many MiMei
// share one storage engine.
//
// It offers the same operations three ways:
//
//   - typed Go methods on *DB (each one atomic) and on *Tx (inside an
//     optimistic multi-key transaction run by DB.Update);
//   - a command interface, DB.Exec / DB.ExecStrings, taking a Redis-style
//     argument vector ("HSET", "h", "f", "v") and returning a Reply, which the
//     CLI (`peer db <mid> HSET h f v`) and the HTTP API use;
//   - a read-only View over any kv.Reader (such as a snapshot of a frozen
//     version), on which every read command works and writes fail with
//     ErrReadOnly.
//
// Semantics follow Redis 7.2 (RESP2 replies). The errors are typed sentinels
// whose messages are Redis' own ("WRONGTYPE Operation against a key holding
// the wrong kind of value"); test them with errors.Is. The differences from
// Redis (no expiry, SCAN cursors are opaque strings rather than integers,
// collections are returned in bytewise order) are listed in
// docs/formats-db.md together with the storage layout.
//
// For versions and backups, Dump walks the whole logical content in a
// canonical order and Digest hashes it (BLAKE3), so two databases with equal
// content have equal digests whatever their history.
//
// This is a storage-layer package: it imports only the standard library,
// internal/kv and BLAKE3. Domain packages (mimei, backup, apps) and the
// edges (httpapi, CLI through the API) may import it; it must never import
// networking or the composition root.
package mimeidb
