package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/peer-node/peer/internal/fsutil"
)

// maxFileSize bounds the config file read into memory.
const maxFileSize = 1 << 20

// Load reads the config file at path over the defaults. A missing file is
// not an error: Load returns Default(). The file must be valid on its own;
// see Parse for what that means and how errors are reported.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Default(), nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("config: read %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return Config{}, &Error{File: path, Msg: fmt.Sprintf("file is larger than %d bytes", maxFileSize)}
	}
	return Parse(path, data)
}

// Parse decodes a config file's content over the defaults; name is the
// file's name for error messages. Decoding is strict: a TOML syntax error, an
// unknown key or table, a value of the wrong type or an invalid value is an
// *Error naming the file and line (and the column, for syntax errors). After
// decoding, Parse runs Validate, so the result is a valid Config. Keys the
// file sets are recorded for IsSet.
func Parse(name string, data []byte) (Config, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF")) // byte order mark left by some editors

	// go-toml first decodes the whole document generically: that applies
	// every TOML rule (syntax, duplicate keys, tables defined twice) and
	// reports positions. Then the AST gives each key with its line.
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		return Config{}, syntaxError(name, err)
	}

	c := Default()
	w := walker{name: name, c: &c}
	w.p.Reset(data)
	for w.p.NextExpression() {
		if err := w.expr(w.p.Expression()); err != nil {
			return Config{}, err
		}
	}
	if err := w.p.Error(); err != nil { // not expected after Unmarshal succeeded
		return Config{}, &Error{File: name, Msg: "syntax error: " + err.Error()}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// syntaxError converts a go-toml decoding error.
func syntaxError(name string, err error) *Error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		return &Error{File: name, Line: line, Column: col, Msg: "syntax error: " + strings.TrimPrefix(de.Error(), "toml: ")}
	}
	return &Error{File: name, Msg: "syntax error: " + strings.TrimPrefix(err.Error(), "toml: ")}
}

// walker applies a parsed document's expressions to a Config.
type walker struct {
	p     unstable.Parser
	name  string
	c     *Config
	table []string // path of the current [table]
}

func (w *walker) expr(e *unstable.Node) error {
	switch e.Kind {
	case unstable.Table, unstable.ArrayTable:
		path, line := w.keyPath(nil, e.Key())
		w.table = path
		got := "table"
		if e.Kind == unstable.ArrayTable {
			got = "array of tables"
		}
		return w.wantTable(path, line, got)
	case unstable.KeyValue:
		return w.keyValue(w.table, e)
	}
	return nil
}

// keyValue applies `key = value` found under the table prefix.
func (w *walker) keyValue(prefix []string, e *unstable.Node) error {
	path, line := w.keyPath(prefix, e.Key())
	v := e.Value()
	if v.Kind == unstable.InlineTable {
		if err := w.wantTable(path, line, "table"); err != nil {
			return err
		}
		it := v.Children()
		for it.Next() {
			if n := it.Node(); n.Kind == unstable.KeyValue {
				if err := w.keyValue(path, n); err != nil {
					return err
				}
			}
		}
		return nil
	}

	name := joinKey(path)
	k := lookup(name)
	if k == nil {
		if isTable(name) {
			return &Error{File: w.name, Line: line, Key: name, Msg: "want table, got " + w.describe(v)}
		}
		return unknownKey(w.name, line, name)
	}
	val, err := nodeValue(v)
	if err != nil {
		return &Error{File: w.name, Line: line, Key: name, Msg: err.Error()}
	}
	if err := k.fromTOML(w.c, val); err != nil {
		var te *typeError
		if errors.As(err, &te) {
			err = fmt.Errorf("want %s, got %s", te.want, w.describe(v))
		}
		return &Error{File: w.name, Line: line, Key: name, Msg: err.Error()}
	}
	w.c.markSet(name, origin{file: w.name, line: line})
	return nil
}

// wantTable checks that a table header or an inline table at path is one of
// the configuration's tables; got names what was found there.
func (w *walker) wantTable(path []string, line int, got string) error {
	name := joinKey(path)
	if k := lookup(name); k != nil {
		return &Error{File: w.name, Line: line, Key: name, Msg: "want " + k.typ + ", got " + got}
	}
	if !isTable(name) {
		return unknownKey(w.name, line, name)
	}
	if got != "table" {
		return &Error{File: w.name, Line: line, Key: name, Msg: "want table, got " + got}
	}
	return nil
}

// keyPath appends the parts of a (possibly dotted) key to prefix, and
// returns the line the key starts on.
func (w *walker) keyPath(prefix []string, it unstable.Iterator) ([]string, int) {
	path := append([]string(nil), prefix...)
	line := 0
	for it.Next() {
		n := it.Node()
		if line == 0 {
			line = w.p.Shape(n.Raw).Start.Line
		}
		path = append(path, string(n.Data))
	}
	return path, line
}

// describe names a value's TOML type followed by its text (shortened).
func (w *walker) describe(v *unstable.Node) string {
	typ := kindName(v.Kind)
	raw := string(w.p.Raw(v.Raw))
	more := false
	if i := strings.IndexAny(raw, "\r\n"); i >= 0 {
		raw, more = raw[:i], true
	}
	if short, cut := shorten(raw); cut {
		raw, more = short, true
	}
	if more {
		raw += "…"
	}
	if raw == "" {
		return typ
	}
	return typ + " " + raw
}

// otherValue stands for a decoded value no key can hold; it is the value's
// TOML type name.
type otherValue string

// nodeValue returns a scalar node's value as a string, int64 or bool, or an
// otherValue for other kinds.
func nodeValue(v *unstable.Node) (any, error) {
	switch v.Kind {
	case unstable.String:
		return string(v.Data), nil
	case unstable.Bool:
		return string(v.Data) == "true", nil
	case unstable.Integer:
		// Go's base-prefix syntax with underscores is a superset of TOML's,
		// and go-toml has already rejected what TOML does not allow.
		n, err := strconv.ParseInt(string(v.Data), 0, 64)
		if err != nil {
			return nil, fmt.Errorf("integer %s does not fit in 64 bits", v.Data)
		}
		return n, nil
	}
	return otherValue(kindName(v.Kind)), nil
}

func kindName(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "string"
	case unstable.Bool:
		return "boolean"
	case unstable.Integer:
		return "integer"
	case unstable.Float:
		return "float"
	case unstable.Array:
		return "array"
	case unstable.InlineTable:
		return "table"
	case unstable.LocalDate:
		return "local date"
	case unstable.LocalTime:
		return "local time"
	case unstable.LocalDateTime:
		return "local date-time"
	case unstable.DateTime:
		return "date-time"
	}
	return "value"
}

// joinKey writes a key path the way TOML would: parts joined with dots, each
// quoted unless it is a bare key.
func joinKey(path []string) string {
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = p
		if p == "" || strings.ContainsFunc(p, func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
		}) {
			parts[i] = tomlString(p)
		}
	}
	return strings.Join(parts, ".")
}

// lookup returns the row for a dotted key, or nil.
func lookup(name string) *key {
	for i := range keys {
		if keys[i].name == name {
			return &keys[i]
		}
	}
	return nil
}

// isTable reports whether name is a table of the configuration, such as
// "api": a proper prefix of some key.
func isTable(name string) bool {
	for i := range keys {
		if strings.HasPrefix(keys[i].name, name+".") {
			return true
		}
	}
	return false
}

func unknownKey(file string, line int, name string) *Error {
	return &Error{File: file, Line: line, Key: name, Msg: fmt.Sprintf("unknown key %q", name), err: ErrUnknownKey}
}

// WriteDefault writes Template to path, mode 0600, if path does not exist
// yet; an existing file (or anything else at path) is left alone. The write
// is atomic: a crash leaves either no file or the whole template.
func WriteDefault(path string) error {
	_, err := os.Lstat(path)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("config: %w", err)
	}
	if err := fsutil.WriteFileAtomic(path, []byte(Template()), 0o600); err != nil {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	return nil
}
