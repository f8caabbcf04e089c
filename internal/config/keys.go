package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// keys is the single table of configuration keys. Each row names the key,
// points at its field, and gives its default, its one-line documentation and
// its check. Defaults, validation, environment variable names, Template, Keys
// and the docs test are all derived from it.
//
// Rows of one table ("api", "log", …) must be adjacent; Template groups them
// in this order.
var keys = []key{
	newKey("api.listen", func(c *Config) *string { return &c.API.Listen },
		"127.0.0.1:7357",
		`Address of the HTTP API and web UI, host:port; host is an IP address or "localhost", port 0 picks a free port.`,
		checkListen).
		withRule(listenNeedsAllowRemote),
	newKey("api.max_body_bytes", func(c *Config) *int64 { return &c.API.MaxBodyBytes },
		1<<20,
		"Largest request body the API accepts, in bytes: 1024 (1 KiB) .. 1073741824 (1 GiB).",
		inRange[int64](1<<10, 1<<30)),
	newKey("api.allow_remote", func(c *Config) *bool { return &c.API.AllowRemote },
		false,
		"Allow api.listen to be a non-loopback address, reachable from other machines.",
		nil),
	newKey("api.hosts", func(c *Config) *string { return &c.API.Hosts },
		"",
		"Comma-separated host names, besides IP addresses and localhost, that requests may give in their Host header (others are refused: DNS rebinding).",
		checkHostList),

	newKey("log.level", func(c *Config) *string { return &c.Log.Level },
		"info",
		`Least severe log level written: "debug", "info", "warn" or "error".`,
		oneOf("debug", "info", "warn", "error")),
	newKey("log.format", func(c *Config) *string { return &c.Log.Format },
		"text",
		`Log line format: "text" (key=value) or "json".`,
		oneOf("text", "json")),

	newKey("store.cache_mb", func(c *Config) *int { return &c.Store.CacheMB },
		32,
		"Block cache of the embedded storage engine, in MiB (4 .. 4096).",
		inRange(4, 4096)),
	newKey("store.reserve_mb", func(c *Config) *int { return &c.Store.ReserveMB },
		0,
		"Free disk space new data may not take, in MiB; writes are refused with disk_full below it, so deleting and `peer store gc` keep room. 0: 1% of the disk, at least 32 and at most 1024 MiB, never over a tenth of the disk.",
		inRange(0, 1<<20)),
	newKey("store.warn_free_mb", func(c *Config) *int { return &c.Store.WarnFreeMB },
		0,
		"Free disk space under which the node warns (an event, a log line, the web UI's banner), in MiB. 0: twice the reserve.",
		inRange(0, 1<<20)),
	newKey("store.ballast_mb", func(c *Config) *int { return &c.Store.BallastMB },
		0,
		"Size of the ballast file kept in the data directory and released when other programs fill the disk, in MiB. 0: half the reserve, at most 64 MiB; -1: none.",
		inRange(-1, 1<<20)),

	newKey("network.enabled", func(c *Config) *bool { return &c.Network.Enabled },
		true,
		"Run the peer-to-peer network (libp2p). Off: the node serves only its local API.",
		nil),
	newKey("network.listen", func(c *Config) *string { return &c.Network.Listen },
		"/ip4/0.0.0.0/tcp/4001,/ip4/0.0.0.0/udp/4001/quic-v1,/ip6/::/tcp/4001,/ip6/::/udp/4001/quic-v1",
		"Comma-separated multiaddrs to listen on (TCP and QUIC); if port 4001 is taken a free port is used.",
		checkAddrList(false)),
	newKey("network.announce", func(c *Config) *string { return &c.Network.Announce },
		"",
		"Comma-separated multiaddrs to advertise instead of the detected ones (empty: detect).",
		checkAddrList(false)),
	newKey("network.bootstrap", func(c *Config) *string { return &c.Network.Bootstrap },
		"",
		"Comma-separated multiaddrs, each ending in /p2p/<peer ID>, of DHT bootstrap peers.",
		checkAddrList(true)),
	newKey("network.dht", func(c *Config) *string { return &c.Network.DHT },
		"auto",
		`DHT mode: "auto" (server when publicly reachable, else client), "server", "client" or "off".`,
		oneOf("auto", "server", "client", "off")),
	newKey("network.reachability", func(c *Config) *string { return &c.Network.Reachability },
		"auto",
		`"auto" (let AutoNAT find out), or "public" / "private" to state it (a known public relay or bootstrap server).`,
		oneOf("auto", "public", "private")),
	newKey("network.mdns", func(c *Config) *bool { return &c.Network.MDNS },
		true,
		"Find peers on the local network by mDNS.",
		nil),
	newKey("network.nat_port_map", func(c *Config) *bool { return &c.Network.NATPortMap },
		true,
		"Ask the home router to forward a port (UPnP / NAT-PMP).",
		nil),
	newKey("network.hole_punching", func(c *Config) *bool { return &c.Network.HolePunching },
		true,
		"Turn relayed connections into direct ones by hole punching (DCUtR).",
		nil),
	newKey("network.index", func(c *Config) *bool { return &c.Network.Index },
		false,
		"Serve as an index peer: keep other peers' signed, expiring registrations and answer lookups.",
		nil),
	newKey("network.indexes", func(c *Config) *string { return &c.Network.Indexes },
		"",
		"Comma-separated multiaddrs (with /p2p/<peer ID>) of index peers to register with and ask.",
		checkAddrList(true)),
	newKey("network.relays", func(c *Config) *string { return &c.Network.Relays },
		"",
		"Comma-separated multiaddrs (with /p2p/<peer ID>) of relays to hold reservations on when not reachable directly.",
		checkAddrList(true)),
	newKey("network.relay_service", func(c *Config) *bool { return &c.Network.RelayService },
		true,
		"Relay connections for contacts (circuit relay v2).",
		nil),
	newKey("network.relay_strangers", func(c *Config) *bool { return &c.Network.RelayStrangers },
		false,
		"Also relay for peers that are not contacts (they get the same limits: lower relay_limit_* too).",
		nil),
	newKey("network.relay_limit_mb", func(c *Config) *int { return &c.Network.RelayLimitMB },
		1024,
		"Data limit of one relayed connection, in MiB (1 .. 1048576).",
		inRange(1, 1<<20)),
	newKey("network.relay_limit_minutes", func(c *Config) *int { return &c.Network.RelayLimitMinutes },
		60,
		"Duration limit of one relayed connection, in minutes (1 .. 10080).",
		inRange(1, 7*24*60)),
	newKey("network.conn_low", func(c *Config) *int { return &c.Network.ConnLow },
		128,
		"Connection manager low water mark: trimming stops here (8 .. 10000).",
		inRange(8, 10000)),
	newKey("network.conn_high", func(c *Config) *int { return &c.Network.ConnHigh },
		384,
		"Connection manager high water mark: above it idle connections are trimmed (16 .. 20000).",
		inRange(16, 20000)).
		withRule(connHighAboveLow),
	newKey("share.check_minutes", func(c *Config) *int { return &c.Share.CheckMinutes },
		10,
		"Safety net of subscriptions: ask owners for new versions this often, in minutes, besides their pushed notifications (1 .. 1440).",
		inRange(1, 1440)),
	newKey("share.cache_mb", func(c *Config) *int { return &c.Share.CacheMB },
		1024,
		"Quota of the cache of public MiMei fetched without subscribing, in MiB; least recently used go first (0 .. 1048576; 0 = keep no cache).",
		inRange(0, 1<<20)),
	newKey("share.rate_mb", func(c *Config) *int { return &c.Share.RateMB },
		8,
		"Bandwidth limit of blocks served to one persona (all its devices together; a stranger: each device), in MiB/s (0 = unlimited, up to 100000).",
		inRange(0, 100000)),
	newKey("share.address_rate_mb", func(c *Config) *int { return &c.Share.AddressRateMB },
		8,
		"Bandwidth limit of blocks served to all peers at one address together (an IPv4 address, an IPv6 /64, or one relay), in MiB/s (0 = unlimited, up to 100000).",
		inRange(0, 100000)),
	newKey("share.total_rate_mb", func(c *Config) *int { return &c.Share.TotalRateMB },
		16,
		"Bandwidth limit of blocks served to all peers together, in MiB/s (0 = unlimited, up to 100000).",
		inRange(0, 100000)),
	newKey("share.cipher", func(c *Config) *string { return &c.Share.Cipher },
		"auto",
		`Cipher that seals the blocks of new key epochs of shared MiMei: "auto" (AES-256-GCM when this CPU has AES instructions, else XChaCha20-Poly1305), "aes-256-gcm" or "xchacha20-poly1305". An epoch keeps its cipher; pick "xchacha20-poly1305" if readers run on boards without AES instructions (Raspberry Pi 4).`,
		oneOf("auto", "aes-256-gcm", "xchacha20-poly1305")),
}

// checkAddrList checks a comma-separated list of multiaddrs in text form
// (the network layer parses them fully); needPeer requires /p2p/<id>.
func checkAddrList(needPeer bool) func(string) error {
	return func(s string) error {
		for _, a := range SplitList(s) {
			if !strings.HasPrefix(a, "/") || strings.ContainsAny(a, " \t") {
				return fmt.Errorf("%s is not a multiaddr (like /ip4/192.0.2.1/tcp/4001)", quote(a))
			}
			if needPeer && !strings.Contains(a, "/p2p/") {
				return fmt.Errorf("%s does not end in /p2p/<peer ID>", quote(a))
			}
		}
		return nil
	}
}

// checkHostList checks a comma-separated list of DNS names.
func checkHostList(s string) error {
	for _, h := range SplitList(s) {
		if strings.ContainsAny(h, " \t/:@[]") || strings.HasPrefix(h, ".") || strings.Contains(h, "..") {
			return fmt.Errorf("%s is not a host name (like peer.home.arpa)", quote(h))
		}
	}
	return nil
}

// SplitList splits a comma-separated list, trimming spaces and dropping
// empty items.
func SplitList(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

func connHighAboveLow(c Config) error {
	if c.Network.ConnHigh <= c.Network.ConnLow {
		return fmt.Errorf("%d must be above network.conn_low (%d)", c.Network.ConnHigh, c.Network.ConnLow)
	}
	return nil
}

// tableDocs holds an optional comment line for each table in Template.
var tableDocs = map[string]string{
	"api":     "Local HTTP API and web UI.",
	"log":     "Structured log written by the node.",
	"store":   "Embedded storage engine.",
	"network": "Peer-to-peer network: listening, discovery, relays. Lists are comma-separated.",
}

// key describes one configuration key. Rows are built by newKey, which
// supplies the type-specific parts.
type key struct {
	name string // dotted TOML key, e.g. "api.listen"
	doc  string // one line for humans
	typ  string // TOML type name: "string", "integer" or "boolean"
	env  string // environment variable, e.g. "PEER_API_LISTEN"

	defText string // default as text for env and Set, e.g. 127.0.0.1:7357
	defTOML string // default as a TOML value, e.g. "127.0.0.1:7357"

	field      func(c *Config) any // pointer to the key's field, for tests
	setDefault func(c *Config)
	// fromTOML stores a decoded TOML value (string, int64 or bool) after
	// checking its type and value. The error is the message for an *Error.
	fromTOML func(c *Config, v any) error
	// fromText parses, checks and stores a value given as text.
	fromText func(c *Config, s string) error
	// check checks the current value on its own.
	check func(c *Config) error
	// rule, if set, checks the current value against other keys. It runs in
	// Validate only, so that overrides may be applied in any order.
	rule func(c Config) error
}

// scalar lists the Go types a key's field may have.
type scalar interface {
	string | int | int64 | bool
}

// newKey builds a row for the field returned by field. check may be nil if
// every value of the type is acceptable.
func newKey[T scalar](name string, field func(*Config) *T, def T, doc string, check func(T) error) key {
	if check == nil {
		check = func(T) error { return nil }
	}
	store := func(c *Config, v T) error {
		if err := check(v); err != nil {
			return err
		}
		*field(c) = v
		return nil
	}
	return key{
		name:       name,
		doc:        doc,
		typ:        typeName(def),
		env:        envName(name),
		defText:    fmt.Sprint(def),
		defTOML:    tomlLiteral(def),
		field:      func(c *Config) any { return field(c) },
		setDefault: func(c *Config) { *field(c) = def },
		fromTOML: func(c *Config, v any) error {
			x, err := convertTOML[T](v)
			if err != nil {
				return err
			}
			return store(c, x)
		},
		fromText: func(c *Config, s string) error {
			x, err := parseText[T](s)
			if err != nil {
				return err
			}
			return store(c, x)
		},
		check: func(c *Config) error { return check(*field(c)) },
	}
}

func (k key) withRule(rule func(Config) error) key {
	k.rule = rule
	return k
}

// envName returns the environment variable for a key: PEER_ and the key
// upper-cased with dots and dashes turned into underscores.
func envName(name string) string {
	return "PEER_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(name))
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int, int64:
		return "integer"
	case bool:
		return "boolean"
	}
	panic(fmt.Sprintf("config: no TOML type for %T", v))
}

// tomlLiteral formats v as a TOML value.
func tomlLiteral(v any) string {
	switch v := v.(type) {
	case string:
		return tomlString(v)
	default:
		return fmt.Sprint(v)
	}
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// convertTOML converts a value decoded from TOML (string, int64 or bool) to
// T, or says that the type is wrong.
func convertTOML[T scalar](v any) (T, error) {
	var out T
	switch p := any(&out).(type) {
	case *string:
		s, ok := v.(string)
		if !ok {
			return out, wantType(out, v)
		}
		*p = s
	case *int64:
		n, ok := v.(int64)
		if !ok {
			return out, wantType(out, v)
		}
		*p = n
	case *int:
		n, ok := v.(int64)
		if !ok {
			return out, wantType(out, v)
		}
		if int64(int(n)) != n {
			return out, fmt.Errorf("%d is too large", n)
		}
		*p = int(n)
	case *bool:
		b, ok := v.(bool)
		if !ok {
			return out, wantType(out, v)
		}
		*p = b
	}
	return out, nil
}

// typeError is a value of the wrong TOML type.
type typeError struct {
	want, got string
}

func (e *typeError) Error() string {
	return fmt.Sprintf("want %s, got %s", e.want, e.got)
}

func wantType(want, got any) error {
	e := &typeError{want: typeName(want)}
	switch got := got.(type) {
	case otherValue:
		e.got = string(got)
	case string:
		e.got = "string"
	case int64:
		e.got = "integer"
	case bool:
		e.got = "boolean"
	default:
		e.got = fmt.Sprintf("%T", got)
	}
	return e
}

// parseText parses s, from an environment variable or Set, as a T.
func parseText[T scalar](s string) (T, error) {
	var out T
	switch p := any(&out).(type) {
	case *string:
		*p = s
	case *int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return out, notInteger(s, err)
		}
		*p = n
	case *int:
		n, err := strconv.ParseInt(s, 10, strconv.IntSize)
		if err != nil {
			return out, notInteger(s, err)
		}
		*p = int(n)
	case *bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return out, fmt.Errorf("%s is not a boolean (use true or false)", quote(s))
		}
		*p = b
	}
	return out, nil
}

func notInteger(s string, err error) error {
	if errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("%s is too large", quote(s))
	}
	return fmt.Errorf("%s is not an integer", quote(s))
}

// inRange accepts integers from lo to hi inclusive.
func inRange[T int | int64](lo, hi T) func(T) error {
	return func(n T) error {
		if n < lo || n > hi {
			return fmt.Errorf("%d is out of range %d .. %d", n, lo, hi)
		}
		return nil
	}
}

// oneOf accepts exactly the given strings.
func oneOf(allowed ...string) func(string) error {
	return func(s string) error {
		for _, a := range allowed {
			if s == a {
				return nil
			}
		}
		quoted := make([]string, len(allowed))
		for i, a := range allowed {
			quoted[i] = strconv.Quote(a)
		}
		return fmt.Errorf("%s is not one of %s", quote(s), strings.Join(quoted, ", "))
	}
}

// quote quotes s for a message, shortened if long.
func quote(s string) string {
	short, cut := shorten(s)
	if cut {
		return strconv.Quote(short) + "…"
	}
	return strconv.Quote(s)
}

// shorten returns at most the first 64 bytes of s, cut at a rune boundary,
// and whether it cut anything.
func shorten(s string) (string, bool) {
	const max = 64
	if len(s) <= max {
		return s, false
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], true
}

// checkListen accepts host:port where port is a number 0-65535 and host is
// an IP address or "localhost".
func checkListen(s string) error {
	_, _, err := splitListen(s)
	return err
}

// splitListen splits and checks a listen address. For "localhost" the
// returned address is invalid (the zero netip.Addr).
func splitListen(s string) (host string, addr netip.Addr, err error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			err = errors.New(ae.Err)
		}
		return "", addr, fmt.Errorf("%s is not host:port (%v)", quote(s), err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", addr, fmt.Errorf("%s is not host:port (port %s is not a number from 0 to 65535)", quote(s), quote(port))
	}
	switch {
	case host == "":
		return "", addr, fmt.Errorf("%s is not host:port (host is empty; use 127.0.0.1 for this machine only, or 0.0.0.0 for all interfaces)", quote(s))
	case strings.EqualFold(host, "localhost"):
		return host, addr, nil
	}
	addr, err = netip.ParseAddr(host)
	if err != nil {
		return "", addr, fmt.Errorf("%s is not host:port (host %s is not an IP address or \"localhost\")", quote(s), quote(host))
	}
	return host, addr, nil
}

// listenNeedsAllowRemote refuses a non-loopback api.listen unless
// api.allow_remote is true.
func listenNeedsAllowRemote(c Config) error {
	if c.API.AllowRemote {
		return nil
	}
	_, addr, err := splitListen(c.API.Listen)
	if err != nil || !addr.IsValid() || addr.Unmap().IsLoopback() {
		return nil // malformed addresses are reported by the key's check
	}
	msg := fmt.Sprintf("%s is not a loopback address; set api.allow_remote = true to listen beyond loopback", quote(c.API.Listen))
	if src := c.source("api.allow_remote"); src != "" {
		msg += " (api.allow_remote = false comes from " + src + ")"
	}
	return errors.New(msg)
}
