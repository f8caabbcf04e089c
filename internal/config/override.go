package config

import (
	"fmt"
	"sort"
	"strings"
)

// ApplyEnv applies the PEER_* variables in environ (as from os.Environ) that
// name configuration keys: PEER_ and the key upper-cased with dots and dashes
// turned into underscores, such as PEER_API_LISTEN or PEER_LOG_LEVEL (see
// Keys). A variable that is present counts even if empty. Other variables,
// including other PEER_* ones, are ignored. If a name appears twice the
// first one counts, as with os.Getenv.
//
// Each value is checked on its own; an invalid one is an *Error whose File
// is "environment variable PEER_…", and c is then left unchanged. Rules
// across keys are left to Validate, so that later --set flags can still
// complete the picture.
func ApplyEnv(c *Config, environ []string) error {
	env := make(map[string]string)
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "PEER_") {
			continue
		}
		if _, dup := env[name]; !dup {
			env[name] = value
		}
	}
	next := *c
	for i := range keys {
		k := &keys[i]
		value, ok := env[k.env]
		if !ok {
			continue
		}
		o := origin{file: "environment variable " + k.env}
		if err := k.fromText(&next, value); err != nil {
			return &Error{File: o.file, Key: k.name, Msg: err.Error()}
		}
		next.markSet(k.name, o)
	}
	*c = next
	return nil
}

// Set sets key (such as "api.listen") to value given as text, as for the
// flag `peer up --set api.listen=127.0.0.1:0`. Integers are decimal;
// booleans are true or false. The value is checked on its own; an invalid
// value or an unknown key is an *Error (for an unknown key it matches
// ErrUnknownKey and suggests close matches), and c is then left unchanged.
// Rules across keys are checked by Validate: call it after the last Set.
func Set(c *Config, key, value string) error {
	k := lookup(key)
	if k == nil {
		return unknownSetKey(key)
	}
	next := *c
	if err := k.fromText(&next, value); err != nil {
		return &Error{Key: key, Msg: err.Error()}
	}
	next.markSet(key, origin{})
	*c = next
	return nil
}

// Resolve builds the node's configuration from all sources, in order of
// precedence: the defaults, the file at path (Load), the PEER_* variables
// in environ (ApplyEnv), and sets, each "key=value" as given to
// `peer up --set` (Set). It ends with Validate.
func Resolve(path string, environ []string, sets []string) (Config, error) {
	c, err := Load(path)
	if err != nil {
		return Config{}, err
	}
	if err := ApplyEnv(&c, environ); err != nil {
		return Config{}, err
	}
	for _, kv := range sets {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			return Config{}, &Error{Msg: fmt.Sprintf("--set %q: want key=value", kv)}
		}
		if err := Set(&c, strings.TrimSpace(key), value); err != nil {
			return Config{}, err
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// unknownSetKey returns the error for an unknown key given to Set, with up
// to three suggestions: keys in the table named, keys with the same last
// part, and keys within a small edit distance.
func unknownSetKey(name string) *Error {
	type cand struct {
		name string
		dist int
	}
	var cands []cand
	last := name[strings.LastIndex(name, ".")+1:]
	for i := range keys {
		k := keys[i].name
		kLast := k[strings.LastIndex(k, ".")+1:]
		d := editDistance(strings.ToLower(name), k)
		switch {
		case strings.HasPrefix(k, name+"."), last != "" && kLast == strings.ToLower(last):
			cands = append(cands, cand{k, 0})
		case d <= max(2, len(k)/4):
			cands = append(cands, cand{k, d})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].dist < cands[j].dist })
	msg := fmt.Sprintf("unknown key %q", name)
	if len(cands) > 3 {
		cands = cands[:3]
	}
	if len(cands) > 0 {
		quoted := make([]string, len(cands))
		for i, c := range cands {
			quoted[i] = fmt.Sprintf("%q", c.name)
		}
		msg += "; did you mean " + strings.Join(quoted, " or ") + "?"
	} else {
		all := make([]string, len(keys))
		for i := range keys {
			all[i] = keys[i].name
		}
		msg += "; known keys: " + strings.Join(all, ", ")
	}
	return &Error{Key: name, Msg: msg, err: ErrUnknownKey}
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
