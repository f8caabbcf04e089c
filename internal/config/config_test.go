package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestDefaults(t *testing.T) {
	d := Default()
	tests := []struct {
		key  string
		got  any
		want any
	}{
		{"api.listen", d.API.Listen, "127.0.0.1:7357"},
		{"api.max_body_bytes", d.API.MaxBodyBytes, int64(1 << 20)},
		{"api.allow_remote", d.API.AllowRemote, false},
		{"api.hosts", d.API.Hosts, ""},
		{"log.level", d.Log.Level, "info"},
		{"log.format", d.Log.Format, "text"},
		{"store.cache_mb", d.Store.CacheMB, 32},
		{"store.reserve_mb", d.Store.ReserveMB, 0},
		{"store.warn_free_mb", d.Store.WarnFreeMB, 0},
		{"store.ballast_mb", d.Store.BallastMB, 0},
		{"network.enabled", d.Network.Enabled, true},
		{"network.listen", d.Network.Listen, "/ip4/0.0.0.0/tcp/4001,/ip4/0.0.0.0/udp/4001/quic-v1,/ip6/::/tcp/4001,/ip6/::/udp/4001/quic-v1"},
		{"network.announce", d.Network.Announce, ""},
		{"network.bootstrap", d.Network.Bootstrap, ""},
		{"network.dht", d.Network.DHT, "auto"},
		{"network.reachability", d.Network.Reachability, "auto"},
		{"network.mdns", d.Network.MDNS, true},
		{"network.nat_port_map", d.Network.NATPortMap, true},
		{"network.hole_punching", d.Network.HolePunching, true},
		{"network.index", d.Network.Index, false},
		{"network.indexes", d.Network.Indexes, ""},
		{"network.relays", d.Network.Relays, ""},
		{"network.relay_service", d.Network.RelayService, true},
		{"network.relay_strangers", d.Network.RelayStrangers, false},
		{"network.relay_limit_mb", d.Network.RelayLimitMB, 1024},
		{"network.relay_limit_minutes", d.Network.RelayLimitMinutes, 60},
		{"network.conn_low", d.Network.ConnLow, 128},
		{"network.conn_high", d.Network.ConnHigh, 384},
		{"share.check_minutes", d.Share.CheckMinutes, 10},
		{"share.cache_mb", d.Share.CacheMB, 1024},
		{"share.rate_mb", d.Share.RateMB, 8},
		{"share.address_rate_mb", d.Share.AddressRateMB, 8},
		{"share.total_rate_mb", d.Share.TotalRateMB, 16},
		{"share.cipher", d.Share.Cipher, "auto"},
	}
	if len(tests) != len(Keys()) {
		t.Errorf("test covers %d keys, Keys() has %d", len(tests), len(Keys()))
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("default %s = %v, want %v", tt.key, tt.got, tt.want)
		}
		if d.IsSet(tt.key) {
			t.Errorf("Default().IsSet(%q) = true", tt.key)
		}
	}
	if err := d.Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}

func TestKeyInfoDefaultsRoundTrip(t *testing.T) {
	// Each KeyInfo.Default, given to Set, yields the default value.
	for _, k := range Keys() {
		c := Default()
		if err := Set(&c, k.Key, k.Default); err != nil {
			t.Errorf("Set(%q, %q) = %v", k.Key, k.Default, err)
			continue
		}
		c.set = nil
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("Set(%q, default %q) changed the config", k.Key, k.Default)
		}
	}
}

// TestKeyTable checks the keys table against the Config structs: every
// field has exactly one row, each row's accessor points at the field its
// name says, and names and environment variables are unique.
func TestKeyTable(t *testing.T) {
	var c Config
	fields := map[string]any{} // dotted toml name -> field address
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("toml")
			if tag == "" {
				t.Errorf("field %s%s has no toml tag", prefix, f.Name)
				continue
			}
			if f.Type.Kind() == reflect.Struct {
				walk(v.Field(i), prefix+tag+".")
				continue
			}
			fields[prefix+tag] = v.Field(i).Addr().Interface()
		}
	}
	walk(reflect.ValueOf(&c).Elem(), "")

	seenEnv := map[string]bool{}
	seenTable := map[string]bool{}
	lastTable := ""
	for i := range keys {
		k := &keys[i]
		addr, ok := fields[k.name]
		if !ok {
			t.Errorf("key %q has no struct field with that toml path", k.name)
			continue
		}
		delete(fields, k.name)
		// The row must point at the field its name says.
		if got := k.field(&c); got != addr {
			t.Errorf("key %q points at the wrong field", k.name)
		}
		if seenEnv[k.env] {
			t.Errorf("environment variable %s used twice", k.env)
		}
		seenEnv[k.env] = true
		if !regexp.MustCompile(`^PEER_[A-Z0-9_]+$`).MatchString(k.env) {
			t.Errorf("key %q: bad environment variable name %q", k.name, k.env)
		}
		table := k.name[:strings.LastIndex(k.name, ".")]
		if table != lastTable && seenTable[table] {
			t.Errorf("rows of table %q are not adjacent (at %q)", table, k.name)
		}
		seenTable[table] = true
		lastTable = table
		if k.doc == "" || strings.Contains(k.doc, "\n") {
			t.Errorf("key %q: doc must be one non-empty line", k.name)
		}
	}
	for name := range fields {
		t.Errorf("struct field %q has no row in the keys table", name)
	}
}

func TestEnvNames(t *testing.T) {
	for name, want := range map[string]string{
		"api.listen":         "PEER_API_LISTEN",
		"api.max_body_bytes": "PEER_API_MAX_BODY_BYTES",
		"log.level":          "PEER_LOG_LEVEL",
		"store.cache_mb":     "PEER_STORE_CACHE_MB",
		"p2p.relay-peers":    "PEER_P2P_RELAY_PEERS",
	} {
		if got := envName(name); got != want {
			t.Errorf("envName(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestTemplateRoundTrip(t *testing.T) {
	tpl := Template()
	c, err := Parse("config.toml", []byte(tpl))
	if err != nil {
		t.Fatalf("Parse(Template()) = %v", err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("Parse(Template()) = %+v, want Default() %+v", c, Default())
	}

	// Each key appears commented out with its default and its doc; removing
	// the '#' sets the key explicitly, to its default.
	lines := strings.Split(tpl, "\n")
	for _, k := range Keys() {
		table, leaf := k.Key[:strings.LastIndex(k.Key, ".")], k.Key[strings.LastIndex(k.Key, ".")+1:]
		i := -1
		in := ""
		for j, l := range lines {
			if strings.HasPrefix(l, "[") {
				in = strings.Trim(l, "[]")
			}
			if in == table && strings.HasPrefix(l, "#"+leaf+" = ") {
				i = j
			}
		}
		if i < 0 {
			t.Errorf("template has no line #%s = …", leaf)
			continue
		}
		if !strings.Contains(tpl, k.Env) {
			t.Errorf("template does not mention %s", k.Env)
		}
		if !strings.Contains(strings.Join(strings.Fields(strings.ReplaceAll(tpl, "\n#", "\n")), " "), k.Doc) {
			t.Errorf("template does not contain the doc of %s", k.Key)
		}
		edited := append([]string(nil), lines...)
		edited[i] = strings.TrimPrefix(edited[i], "#")
		c, err := Parse("config.toml", []byte(strings.Join(edited, "\n")))
		if err != nil {
			t.Errorf("uncommenting %s: %v", k.Key, err)
			continue
		}
		if !c.IsSet(k.Key) {
			t.Errorf("uncommenting %s: IsSet = false", k.Key)
		}
		c.set = nil
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("uncommenting %s changed the value: %+v", k.Key, c)
		}
	}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want func(*Config)
		set  []string
	}{
		{"empty", "", func(*Config) {}, nil},
		{"tables", "[api]\nlisten = \"localhost:0\"\nmax_body_bytes = 1_024\nallow_remote = true\n[log]\nlevel = \"debug\"\nformat = 'json'\n[store]\ncache_mb = 4096\n",
			func(c *Config) {
				c.API = API{Listen: "localhost:0", MaxBodyBytes: 1024, AllowRemote: true}
				c.Log = Log{Level: "debug", Format: "json"}
				c.Store.CacheMB = 4096
			},
			[]string{"api.listen", "api.max_body_bytes", "api.allow_remote", "log.level", "log.format", "store.cache_mb"}},
		{"dotted", "api.listen = \"[::1]:80\"\nstore.cache_mb = 0x10\n", func(c *Config) {
			c.API.Listen = "[::1]:80"
			c.Store.CacheMB = 16
		}, []string{"api.listen", "store.cache_mb"}},
		{"inline table", "log = { level = \"warn\" }\n", func(c *Config) { c.Log.Level = "warn" }, []string{"log.level"}},
		{"quoted keys", "[\"api\"]\n'listen' = \"127.0.0.2:1\"\n", func(c *Config) { c.API.Listen = "127.0.0.2:1" }, []string{"api.listen"}},
		{"remote allowed", "[api]\nlisten = \"0.0.0.0:7357\"\nallow_remote = true\n", func(c *Config) {
			c.API.Listen = "0.0.0.0:7357"
			c.API.AllowRemote = true
		}, []string{"api.listen", "api.allow_remote"}},
		{"byte order mark, CRLF, comments", "\uFEFF# hi\r\n[log] # the log\r\nlevel = \"error\" # quiet\r\n", func(c *Config) { c.Log.Level = "error" }, []string{"log.level"}},
		{"empty table", "[store]\n", func(*Config) {}, nil},
		{"mapped loopback", "api.listen = \"[::ffff:127.0.0.1]:1\"\n", func(c *Config) { c.API.Listen = "[::ffff:127.0.0.1]:1" }, []string{"api.listen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("config.toml", []byte(tt.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := Default()
			tt.want(&want)
			for _, k := range tt.set {
				if !got.IsSet(k) {
					t.Errorf("IsSet(%q) = false", k)
				}
			}
			if len(got.set) != len(tt.set) {
				t.Errorf("%d keys set, want %d", len(got.set), len(tt.set))
			}
			got.set = nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		line    int
		col     int // only for syntax errors
		key     string
		unknown bool
		msg     string // Error() must contain this
	}{
		// Syntax.
		{name: "syntax: junk after value", doc: "[api]\n\nlisten = \"127.0.0.1:1\" b\n", line: 3, col: 24, msg: "syntax error: expected newline"},
		{name: "syntax: missing value", doc: "[log]\nlevel =\n", line: 2, col: 8, msg: "syntax error:"},
		{name: "syntax: unterminated string", doc: "[log]\nlevel = \"info\n", line: 2, msg: "syntax error:"},
		{name: "syntax: duplicate key", doc: "[log]\nlevel = \"info\"\nlevel = \"warn\"\n", line: 3, msg: "already defined"},
		{name: "syntax: table twice", doc: "[log]\n[api]\n[log]\n", line: 3, msg: "already exists"},

		// Unknown keys and tables.
		{name: "unknown key", doc: "# comment\n\n[api]\nlisten = \"127.0.0.1:1\"\n\n\nlistn = \"x\"\n", line: 7, key: "api.listn", unknown: true, msg: `config.toml:7: unknown key "api.listn"`},
		{name: "unknown table", doc: "[apii]\n", line: 1, key: "apii", unknown: true, msg: `unknown key "apii"`},
		{name: "unknown top-level key", doc: "debug = true\n", line: 1, key: "debug", unknown: true},
		{name: "unknown dotted", doc: "\nlog.colour = true\n", line: 2, key: "log.colour", unknown: true},
		{name: "unknown in inline table", doc: "api = {\n  listen = \"127.0.0.1:1\",\n  port = 1 }\n", line: 3, key: "api.port", unknown: true},
		{name: "quoted dotted name is one key", doc: "\"api.listen\" = \"127.0.0.1:1\"\n", line: 1, key: `"api.listen"`, unknown: true},
		{name: "key under a leaf", doc: "api.listen.host = \"x\"\n", line: 1, key: "api.listen.host", unknown: true},

		// Wrong types.
		{name: "type: listen", doc: "[api]\nlisten = 7357\n", line: 2, key: "api.listen", msg: "api.listen: want string, got integer 7357"},
		{name: "type: max_body_bytes", doc: "[api]\nmax_body_bytes = \"1MiB\"\n", line: 2, key: "api.max_body_bytes", msg: `want integer, got string "1MiB"`},
		{name: "type: float for integer", doc: "[api]\nmax_body_bytes = 1e6\n", line: 2, key: "api.max_body_bytes", msg: "want integer, got float 1e6"},
		{name: "type: allow_remote", doc: "[api]\nallow_remote = \"yes\"\n", line: 2, key: "api.allow_remote", msg: `want boolean, got string "yes"`},
		{name: "type: level", doc: "[log]\nlevel = [\"info\"]\n", line: 2, key: "log.level", msg: "want string, got array"},
		{name: "type: format", doc: "[log]\nformat = true\n", line: 2, key: "log.format", msg: "want string, got boolean true"},
		{name: "type: cache_mb", doc: "[store]\ncache_mb = 1979-05-27\n", line: 2, key: "store.cache_mb", msg: "want integer, got local date 1979-05-27"},
		{name: "type: multi-line string", doc: "[store]\ncache_mb = \"\"\"\n32\"\"\"\n", line: 2, key: "store.cache_mb", msg: `want integer, got string """…`},
		{name: "type: table as value", doc: "api = 5\n", line: 1, key: "api", msg: "api: want table, got integer 5"},
		{name: "type: key as table", doc: "[log.level]\n", line: 1, key: "log.level", msg: "want string, got table"},
		{name: "type: key as inline table", doc: "log.level = { x = 1 }\n", line: 1, key: "log.level", msg: "want string, got table"},
		{name: "type: array of tables", doc: "[[api]]\n", line: 1, key: "api", msg: "want table, got array of tables"},

		// Invalid values, every key.
		{name: "listen: no port", doc: "[api]\nlisten = \"7357\"\n", line: 2, key: "api.listen", msg: `config.toml:2: api.listen: "7357" is not host:port (missing port in address)`},
		{name: "listen: port not numeric", doc: "[api]\nlisten = \"127.0.0.1:http\"\n", line: 2, key: "api.listen", msg: `port "http" is not a number`},
		{name: "listen: port too large", doc: "[api]\nlisten = \"127.0.0.1:65536\"\n", line: 2, key: "api.listen", msg: "from 0 to 65535"},
		{name: "listen: host name", doc: "[api]\nlisten = \"example.com:80\"\n", line: 2, key: "api.listen", msg: `host "example.com" is not an IP address`},
		{name: "listen: empty host", doc: "[api]\nlisten = \":80\"\n", line: 2, key: "api.listen", msg: "host is empty"},
		{name: "listen: empty", doc: "[api]\nlisten = \"\"\n", line: 2, key: "api.listen", msg: `"" is not host:port`},
		{name: "listen: remote without allow_remote", doc: "[api]\n\nlisten = \"0.0.0.0:7357\"\n", line: 3, key: "api.listen", msg: `config.toml:3: api.listen: "0.0.0.0:7357" is not a loopback address; set api.allow_remote = true to listen beyond loopback`},
		{name: "listen: remote, allow_remote false in file", doc: "[api]\nallow_remote = false\nlisten = \"192.168.1.2:7357\"\n", line: 3, key: "api.listen", msg: "(api.allow_remote = false comes from config.toml:2)"},
		{name: "max_body_bytes: too small", doc: "[api]\nmax_body_bytes = 1023\n", line: 2, key: "api.max_body_bytes", msg: "api.max_body_bytes: 1023 is out of range 1024 .. 1073741824"},
		{name: "max_body_bytes: too large", doc: "[api]\nmax_body_bytes = 1073741825\n", line: 2, key: "api.max_body_bytes", msg: "out of range"},
		{name: "max_body_bytes: negative", doc: "[api]\nmax_body_bytes = -1\n", line: 2, key: "api.max_body_bytes", msg: "-1 is out of range"},
		{name: "level", doc: "[log]\nlevel = \"verbose\"\n", line: 2, key: "log.level", msg: `log.level: "verbose" is not one of "debug", "info", "warn", "error"`},
		{name: "level: case", doc: "[log]\nlevel = \"INFO\"\n", line: 2, key: "log.level", msg: `"INFO" is not one of`},
		{name: "format", doc: "[log]\nformat = \"xml\"\n", line: 2, key: "log.format", msg: `log.format: "xml" is not one of "text", "json"`},
		{name: "cache_mb: too small", doc: "[store]\ncache_mb = 3\n", line: 2, key: "store.cache_mb", msg: "store.cache_mb: 3 is out of range 4 .. 4096"},
		{name: "cache_mb: too large", doc: "[store]\ncache_mb = 4097\n", line: 2, key: "store.cache_mb", msg: "4097 is out of range"},
		{name: "cache_mb: inline table line", doc: "store = {\n\n cache_mb = 1 }\n", line: 3, key: "store.cache_mb", msg: "1 is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("config.toml", []byte(tt.doc))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse error = %v (%T), want *Error", err, err)
			}
			if e.File != "config.toml" || e.Line != tt.line || e.Key != tt.key {
				t.Errorf("error at %s:%d key %q, want config.toml:%d key %q (%v)", e.File, e.Line, e.Key, tt.line, tt.key, err)
			}
			if tt.col != 0 && e.Column != tt.col {
				t.Errorf("column %d, want %d (%v)", e.Column, tt.col, err)
			}
			if got := errors.Is(err, ErrUnknownKey); got != tt.unknown {
				t.Errorf("errors.Is(err, ErrUnknownKey) = %v, want %v", got, tt.unknown)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line", err)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{File: "config.toml", Line: 3, Key: "api.listen", Msg: `"x" is not host:port (missing port in address)`},
			`config.toml:3: api.listen: "x" is not host:port (missing port in address)`},
		{unknownKey("config.toml", 7, "api.listn"), `config.toml:7: unknown key "api.listn"`},
		{&Error{File: "config.toml", Line: 2, Column: 9, Msg: "syntax error: x"}, "config.toml:2:9: syntax error: x"},
		{&Error{File: "environment variable PEER_LOG_LEVEL", Key: "log.level", Msg: "m"}, "environment variable PEER_LOG_LEVEL: log.level: m"},
		{&Error{Key: "log.level", Msg: "m"}, "log.level: m"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()

	c, err := Load(filepath.Join(dir, "missing.toml"))
	if err != nil || !reflect.DeepEqual(c, Default()) {
		t.Errorf("Load(missing) = %+v, %v; want Default(), nil", c, err)
	}

	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte("[log]\nlevel = \"debug\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load(path)
	if err != nil || c.Log.Level != "debug" || !c.IsSet("log.level") || c.IsSet("log.format") {
		t.Errorf("Load = %+v, %v", c, err)
	}

	if err := os.WriteFile(path, []byte("[log]\nlevel = \"loud\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	var e *Error
	if !errors.As(err, &e) || e.File != path || e.Line != 2 {
		t.Errorf("Load(invalid) = %v, want *Error at %s:2", err, path)
	}

	if err := os.WriteFile(path, []byte(strings.Repeat("#\n", maxFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.As(err, &e) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load(huge) = %v", err)
	}

	if _, err := Load(dir); err == nil {
		t.Errorf("Load(directory) succeeded")
	}
}

func TestWriteDefault(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	if err := WriteDefault(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != Template() {
		t.Errorf("WriteDefault wrote something other than Template()")
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	c, err := Load(path)
	if err != nil || !reflect.DeepEqual(c, Default()) {
		t.Errorf("Load(written template) = %+v, %v", c, err)
	}

	// An existing file is left alone.
	mine := []byte("[log]\nlevel = \"warn\"\n")
	if err := os.WriteFile(path, mine, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteDefault(path); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != string(mine) {
		t.Errorf("WriteDefault replaced an existing file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1 (no temporary files)", len(entries))
	}

	if err := WriteDefault(filepath.Join(dir, "no", "such", "dir", "config.toml")); err == nil {
		t.Errorf("WriteDefault into a missing directory succeeded")
	}
}

// TestPrecedence checks defaults < file < environment < Set.
func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	file := "[api]\nlisten = \"127.0.0.1:1001\"\nmax_body_bytes = 2048\n[log]\nlevel = \"warn\"\nformat = \"json\"\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := []string{
		"HOME=/root",
		"PEER_API_LISTEN=127.0.0.1:1002",
		"PEER_LOG_LEVEL=debug",
		"PEER_DATADIR=/elsewhere", // not a key: ignored
		"PEER_LOG_LEVEL=error",    // duplicate: the first counts
		"PEER_STORE_CACHE_MB=64",
	}
	sets := []string{"api.listen=127.0.0.1:1003", "store.cache_mb=128"}

	c, err := Resolve(path, environ, sets)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		API:     API{Listen: "127.0.0.1:1003", MaxBodyBytes: 2048, AllowRemote: false},
		Log:     Log{Level: "debug", Format: "json"},
		Store:   Store{CacheMB: 128},
		Network: Default().Network,
		Share:   Default().Share,
	}
	got := c
	got.set = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve = %+v\nwant %+v", got, want)
	}
	for _, k := range Keys() {
		wantSet := k.Key != "api.allow_remote" && k.Key != "api.hosts" && !strings.HasPrefix(k.Key, "network.") && !strings.HasPrefix(k.Key, "share.") &&
			(!strings.HasPrefix(k.Key, "store.") || k.Key == "store.cache_mb")
		if c.IsSet(k.Key) != wantSet {
			t.Errorf("IsSet(%q) = %v, want %v", k.Key, c.IsSet(k.Key), wantSet)
		}
	}

	// Step by step, with IsSet for a key set by each layer only.
	c = Default()
	if c.IsSet("api.listen") {
		t.Error("default api.listen counts as set")
	}
	if err := ApplyEnv(&c, []string{"PEER_API_LISTEN=127.0.0.1:7357"}); err != nil {
		t.Fatal(err)
	}
	if !c.IsSet("api.listen") {
		t.Error("api.listen from the environment does not count as set, even if equal to the default")
	}
	c = Default()
	if err := Set(&c, "api.listen", "127.0.0.1:0"); err != nil || !c.IsSet("api.listen") || c.API.Listen != "127.0.0.1:0" {
		t.Errorf("Set api.listen: %v, %+v", err, c.API)
	}
	if c.IsSet("no.such.key") {
		t.Error("IsSet of an unknown key")
	}
}

func TestCopiesDoNotShareIsSet(t *testing.T) {
	a := Default()
	if err := Set(&a, "log.level", "debug"); err != nil {
		t.Fatal(err)
	}
	b := a
	if err := Set(&b, "log.format", "json"); err != nil {
		t.Fatal(err)
	}
	if a.IsSet("log.format") {
		t.Error("Set on a copy changed the original's IsSet")
	}
	if !b.IsSet("log.level") || !b.IsSet("log.format") {
		t.Error("copy lost IsSet")
	}
}

func TestApplyEnvErrors(t *testing.T) {
	tests := []struct {
		env string
		key string
		msg string
	}{
		{"PEER_API_LISTEN=nope", "api.listen", `environment variable PEER_API_LISTEN: api.listen: "nope" is not host:port`},
		{"PEER_API_MAX_BODY_BYTES=1MiB", "api.max_body_bytes", `environment variable PEER_API_MAX_BODY_BYTES: api.max_body_bytes: "1MiB" is not an integer`},
		{"PEER_API_MAX_BODY_BYTES=99999999999999999999", "api.max_body_bytes", `"99999999999999999999" is too large`},
		{"PEER_API_ALLOW_REMOTE=yes", "api.allow_remote", `"yes" is not a boolean`},
		{"PEER_LOG_LEVEL=", "log.level", `environment variable PEER_LOG_LEVEL: log.level: "" is not one of`},
		{"PEER_LOG_FORMAT=xml", "log.format", `"xml" is not one of "text", "json"`},
		{"PEER_STORE_CACHE_MB=2", "store.cache_mb", "environment variable PEER_STORE_CACHE_MB: store.cache_mb: 2 is out of range 4 .. 4096"},
	}
	for _, tt := range tests {
		c := Default()
		err := ApplyEnv(&c, []string{"PEER_NOT_A_KEY=1", tt.env})
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("ApplyEnv(%s) = %v, want *Error", tt.env, err)
			continue
		}
		name, _, _ := strings.Cut(tt.env, "=")
		if e.File != "environment variable "+name || e.Key != tt.key || e.Line != 0 {
			t.Errorf("ApplyEnv(%s): File %q Key %q Line %d", tt.env, e.File, e.Key, e.Line)
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ApplyEnv(%s) = %q, want it to contain %q", tt.env, err, tt.msg)
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("ApplyEnv(%s) failed but changed the config", tt.env)
		}
	}
}

func TestSetErrors(t *testing.T) {
	tests := []struct {
		key, value string
		unknown    bool
		msg        string
	}{
		{"api.listn", "x", true, `unknown key "api.listn"; did you mean "api.listen"?`},
		{"listen", "x", true, `did you mean "api.listen" or "network.listen"?`},
		{"log", "debug", true, `did you mean "log.level" or "log.format"?`},
		{"store.cache", "1", true, `did you mean "store.cache_mb"?`},
		{"zzz", "1", true, `unknown key "zzz"; known keys: api.listen, `},
		{"api.listen", "x", false, `api.listen: "x" is not host:port (missing port in address)`},
		{"store.cache_mb", "1_000", false, `store.cache_mb: "1_000" is not an integer`},
		{"store.cache_mb", "9999", false, "9999 is out of range 4 .. 4096"},
	}
	for _, tt := range tests {
		c := Default()
		err := Set(&c, tt.key, tt.value)
		var e *Error
		if !errors.As(err, &e) || e.Key != tt.key || e.File != "" {
			t.Errorf("Set(%q, %q) = %v, want *Error for the key without a file", tt.key, tt.value, err)
			continue
		}
		if errors.Is(err, ErrUnknownKey) != tt.unknown {
			t.Errorf("Set(%q): errors.Is(ErrUnknownKey) = %v", tt.key, !tt.unknown)
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Set(%q, %q) = %q, want it to contain %q", tt.key, tt.value, err, tt.msg)
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("Set(%q, %q) failed but changed the config", tt.key, tt.value)
		}
	}
}

// TestValidateOrigins checks that Validate locates a problem where the
// offending value came from.
func TestValidateOrigins(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte("[api]\nallow_remote = true\nlisten = \"0.0.0.0:7357\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// The file is valid; the environment turns allow_remote off.
	_, err := Resolve(path, []string{"PEER_API_ALLOW_REMOTE=false"}, nil)
	var e *Error
	if !errors.As(err, &e) || e.File != path || e.Line != 3 || e.Key != "api.listen" {
		t.Fatalf("Resolve = %v, want *Error at %s:3 for api.listen", err, path)
	}
	if !strings.Contains(err.Error(), "(api.allow_remote = false comes from environment variable PEER_API_ALLOW_REMOTE)") {
		t.Errorf("error does not say where allow_remote came from: %v", err)
	}

	// Set in any order, checked at the end: remote listen from the
	// environment, allowed by a flag.
	c, err := Resolve(filepath.Join(dir, "missing.toml"), []string{"PEER_API_LISTEN=0.0.0.0:1"}, []string{"api.allow_remote=true"})
	if err != nil || c.API.Listen != "0.0.0.0:1" || !c.API.AllowRemote {
		t.Errorf("Resolve(env listen, flag allow_remote) = %+v, %v", c.API, err)
	}
	c = Default()
	if err := ApplyEnv(&c, []string{"PEER_API_LISTEN=10.0.0.1:1"}); err != nil {
		t.Fatalf("ApplyEnv checked a rule across keys: %v", err)
	}
	err = c.Validate()
	if !errors.As(err, &e) || e.File != "environment variable PEER_API_LISTEN" || e.Line != 0 {
		t.Errorf("Validate = %v, want *Error naming PEER_API_LISTEN", err)
	}

	// Values set in code or by Set have no location.
	c = Default()
	c.API.Listen = "[2001:db8::1]:80"
	err = c.Validate()
	if !errors.As(err, &e) || e.File != "" || e.Line != 0 || e.Key != "api.listen" {
		t.Errorf("Validate = %v, want *Error for api.listen without a location", err)
	}
	if got, want := err.Error(), `api.listen: "[2001:db8::1]:80" is not a loopback address; set api.allow_remote = true to listen beyond loopback`; got != want {
		t.Errorf("Validate = %q, want %q", got, want)
	}
	if err := Set(&c, "api.allow_remote", "true"); err != nil || c.Validate() != nil {
		t.Errorf("allow_remote = true did not fix it: %v, %v", err, c.Validate())
	}
	if _, err := Resolve(filepath.Join(dir, "missing.toml"), nil, []string{"api.listen"}); err == nil || !strings.Contains(err.Error(), "want key=value") {
		t.Errorf("Resolve with --set without '=' = %v", err)
	}

	var zero Config
	if err := zero.Validate(); err == nil {
		t.Error("the zero Config validates")
	}
}

// TestDocs keeps docs/config.md in step with the keys table: each key has a
// row with its default and environment variable.
func TestDocs(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "| `") {
			cells := strings.Split(line, "|")
			if len(cells) >= 5 {
				rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = line
			}
		}
	}
	for _, k := range Keys() {
		row, ok := rows[k.Key]
		if !ok {
			t.Errorf("docs/config.md has no table row for %s", k.Key)
			continue
		}
		cells := strings.Split(row, "|")
		if got := strings.TrimSpace(cells[2]); got != "`"+k.Default+"`" {
			t.Errorf("docs/config.md: %s default is %s, want `%s`", k.Key, got, k.Default)
		}
		if got := strings.TrimSpace(cells[3]); got != "`"+k.Env+"`" {
			t.Errorf("docs/config.md: %s environment variable is %s, want `%s`", k.Key, got, k.Env)
		}
		delete(rows, k.Key)
	}
	for k := range rows {
		t.Errorf("docs/config.md documents %s, which is not a key", k)
	}
}
