// Package config defines the node's configuration: the keys of
// <datadir>/config.toml, their defaults, documentation and rules, and how the
// file, PEER_* environment variables and --set flags are layered on top of
// each other.
//
// Every key is described once, in the keys table in keys.go; defaults,
// validation, environment variable names, Template, Keys and the tests that
// keep docs/config.md honest are all derived from that table. Adding a key is
// one row there plus a field in the structs below.
//
// The usual sequence, which Resolve performs in one call, is
//
//	c, err := config.Load(filepath.Join(datadir, "config.toml")) // defaults < file
//	err = config.ApplyEnv(&c, os.Environ())                       // < PEER_* variables
//	err = config.Set(&c, "api.listen", "127.0.0.1:0")             // < --set flags
//	err = c.Validate()                                            // rules across keys
//
// Errors about a key are *Error values that name the key and where its value
// came from (file and line, or environment variable).
//
// The package uses only the standard library, go-toml and internal/fsutil.
// It is meant for the composition root (internal/node) and cmd/peer; other
// packages should take their settings as plain parameters or options structs
// from node rather than import this package.
package config

import (
	"errors"
	"strconv"
	"strings"
)

// Config is the node's configuration. Start from Default: the zero Config is
// not valid (it has no listen address, log level or cache size).
//
// A Config also remembers which keys were set explicitly (by the file, the
// environment or Set) and where; see IsSet. Because of that record a Config
// is not comparable with ==; compare sections (c.API == d.API) or use
// reflect.DeepEqual.
type Config struct {
	API     API     `toml:"api"`
	Log     Log     `toml:"log"`
	Store   Store   `toml:"store"`
	Network Network `toml:"network"`
	Share   Share   `toml:"share"`

	// set records the keys set explicitly and where. It is replaced, never
	// modified in place, so copies of a Config do not share changes.
	set map[string]origin
}

// API configures the local HTTP API and web UI.
type API struct {
	Listen       string `toml:"listen"`
	MaxBodyBytes int64  `toml:"max_body_bytes"`
	AllowRemote  bool   `toml:"allow_remote"`
	Hosts        string `toml:"hosts"`
}

// Log configures the node's structured log.
type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// Store configures the embedded storage engine.
type Store struct {
	CacheMB    int `toml:"cache_mb"`
	ReserveMB  int `toml:"reserve_mb"`
	WarnFreeMB int `toml:"warn_free_mb"`
	BallastMB  int `toml:"ballast_mb"`
}

// Network configures the peer-to-peer network (see docs/network.md).
type Network struct {
	Enabled           bool   `toml:"enabled"`
	Listen            string `toml:"listen"`
	Announce          string `toml:"announce"`
	Bootstrap         string `toml:"bootstrap"`
	DHT               string `toml:"dht"`
	Reachability      string `toml:"reachability"`
	MDNS              bool   `toml:"mdns"`
	NATPortMap        bool   `toml:"nat_port_map"`
	HolePunching      bool   `toml:"hole_punching"`
	Index             bool   `toml:"index"`
	Indexes           string `toml:"indexes"`
	Relays            string `toml:"relays"`
	RelayService      bool   `toml:"relay_service"`
	RelayStrangers    bool   `toml:"relay_strangers"`
	RelayLimitMB      int    `toml:"relay_limit_mb"`
	RelayLimitMinutes int    `toml:"relay_limit_minutes"`
	ConnLow           int    `toml:"conn_low"`
	ConnHigh          int    `toml:"conn_high"`
}

// Share configures sharing and sync of MiMei (see docs/sharing.md).
type Share struct {
	CheckMinutes  int    `toml:"check_minutes"`
	CacheMB       int    `toml:"cache_mb"`
	RateMB        int    `toml:"rate_mb"`
	AddressRateMB int    `toml:"address_rate_mb"`
	TotalRateMB   int    `toml:"total_rate_mb"`
	Cipher        string `toml:"cipher"`
}

// origin says where an explicitly set value came from.
type origin struct {
	file string // file path, "environment variable PEER_…", or "" for Set
	line int    // 1-based line in file, 0 if not from a file
}

// Default returns the configuration used when nothing is configured.
func Default() Config {
	var c Config
	for i := range keys {
		keys[i].setDefault(&c)
	}
	return c
}

// IsSet reports whether key (for example "api.listen") was set explicitly by
// the config file, an environment variable or Set, as opposed to holding its
// default. A key set to a value equal to its default still counts as set.
// IsSet returns false for unknown keys.
func (c Config) IsSet(key string) bool {
	_, ok := c.set[key]
	return ok
}

// markSet records that key was set from o.
func (c *Config) markSet(key string, o origin) {
	m := make(map[string]origin, len(c.set)+1)
	for k, v := range c.set {
		m[k] = v
	}
	m[key] = o
	c.set = m
}

// Validate checks every key's value and the rules that span keys (for
// example, a non-loopback api.listen needs api.allow_remote = true). It
// returns the first problem as an *Error; its File and Line say where the
// offending value came from, and are empty for defaults and values set in
// code.
func (c Config) Validate() error {
	for i := range keys {
		k := &keys[i]
		if err := k.check(&c); err != nil {
			return c.errorFor(k.name, err.Error())
		}
	}
	for i := range keys {
		k := &keys[i]
		if k.rule == nil {
			continue
		}
		if err := k.rule(c); err != nil {
			return c.errorFor(k.name, err.Error())
		}
	}
	return nil
}

// errorFor returns an *Error about key, located where key's value came from.
func (c Config) errorFor(key, msg string) *Error {
	o := c.set[key]
	return &Error{File: o.file, Line: o.line, Key: key, Msg: msg}
}

// source describes where key's value came from, for messages; "" if it
// holds its default.
func (c Config) source(key string) string {
	o, ok := c.set[key]
	switch {
	case !ok:
		return ""
	case o.line > 0:
		return o.file + ":" + strconv.Itoa(o.line)
	case o.file != "":
		return o.file
	default:
		return "--set"
	}
}

// ErrUnknownKey is matched (with errors.Is) by the *Error returned for a key
// that the configuration does not have.
var ErrUnknownKey = errors.New("unknown key")

// Error is a problem with one configuration value or with the config file.
// Its Error method gives one line such as
//
//	config.toml:3: api.listen: "x" is not host:port (missing port in address)
//	config.toml:7: unknown key "api.listn"
//	config.toml:2:9: syntax error: expected newline but got U+0062 'b'
//	environment variable PEER_LOG_LEVEL: log.level: "loud" is not one of "debug", "info", "warn", "error"
type Error struct {
	// File is the config file's path as given to Load or Parse, or
	// "environment variable PEER_…" for a value from the environment. It is
	// empty for values given to Set and for defaults.
	File string
	// Line is the 1-based line in File, or 0 if not known or not a file.
	Line int
	// Column is the 1-based column, set only for TOML syntax errors.
	Column int
	// Key is the dotted key, such as "api.listen"; empty for syntax errors.
	Key string
	// Msg says what is wrong, including the offending value.
	Msg string

	err error // sentinel for errors.Is, such as ErrUnknownKey
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
			if e.Column > 0 {
				b.WriteString(":" + strconv.Itoa(e.Column))
			}
		}
		b.WriteString(": ")
	}
	// The message of an unknown key already names it.
	if e.Key != "" && e.err != ErrUnknownKey {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns ErrUnknownKey for unknown keys, nil otherwise.
func (e *Error) Unwrap() error { return e.err }
