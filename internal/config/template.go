package config

import (
	"strings"
)

// KeyInfo describes one configuration key, for documentation and for
// commands that list the configuration.
type KeyInfo struct {
	Key     string // dotted name in config.toml, e.g. "api.listen"
	Type    string // TOML type: "string", "integer" or "boolean"
	Default string // default as text, as given to Set or an environment variable
	Doc     string // one line
	Env     string // environment variable, e.g. "PEER_API_LISTEN"
}

// Keys returns every configuration key, grouped by table in a fixed order.
func Keys() []KeyInfo {
	out := make([]KeyInfo, len(keys))
	for i, k := range keys {
		out[i] = KeyInfo{Key: k.name, Type: k.typ, Default: k.defText, Doc: k.doc, Env: k.env}
	}
	return out
}

const templateHeader = `# Peer node configuration.
#
# Every key is listed below, commented out, with its default value and what
# it does. To change a setting, remove the '#' in front of the key and edit
# the value. Environment variables (shown for each key) override this file,
# and 'peer up --set key=value' flags override both. See docs/config.md.
`

// Template returns a config.toml in which every key is commented out with
// its default value, its documentation and its environment variable,
// grouped by table. Loading it gives Default().
func Template() string {
	var b strings.Builder
	b.WriteString(templateHeader)
	table := ""
	for _, k := range keys {
		dot := strings.LastIndex(k.name, ".")
		t, leaf := k.name[:dot], k.name[dot+1:]
		if t != table {
			table = t
			b.WriteString("\n[" + t + "]\n")
			if doc := tableDocs[t]; doc != "" {
				writeComment(&b, doc)
			}
		}
		b.WriteString("\n")
		writeComment(&b, k.doc)
		b.WriteString("# Environment: " + k.env + "\n")
		b.WriteString("#" + leaf + " = " + k.defTOML + "\n")
	}
	return b.String()
}

// writeComment writes text as "# " lines wrapped before 80 columns.
func writeComment(b *strings.Builder, text string) {
	line := "#"
	for _, word := range strings.Fields(text) {
		if len(line)+1+len(word) > 78 && line != "#" {
			b.WriteString(line + "\n")
			line = "#"
		}
		line += " " + word
	}
	b.WriteString(line + "\n")
}
