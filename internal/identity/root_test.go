package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// The three ways to a Root give the same keys; only the words and the
// entropy can give the words back.
func TestRootSources(t *testing.T) {
	seed, err := SeedFromMnemonic(abandonArt)
	if err != nil {
		t.Fatal(err)
	}
	fromWords, err := RootFromMnemonic("  ABANDON abandon\tabandon abandon abandon abandon abandon abandon abandon abandon abandon abandon\nabandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon Art ")
	if err != nil {
		t.Fatal(err)
	}
	fromEntropy, err := RootFromEntropy(make([]byte, 32)) // abandon…art is the all-zero entropy
	if err != nil {
		t.Fatal(err)
	}
	fromSeed, err := RootFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		root      *Root
		knowsWord bool
	}{
		{"mnemonic", fromWords, true},
		{"entropy", fromEntropy, true},
		{"seed", fromSeed, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !bytes.Equal(c.root.Seed(), seed) {
				t.Fatal("seed differs from SeedFromMnemonic's")
			}
			for _, i := range []uint32{0, 1, 7} {
				if !c.root.PersonaRoot(i).Equal(PersonaKey(seed, i)) {
					t.Errorf("PersonaRoot(%d) is not PersonaKey(seed, %d)", i, i)
				}
			}
			words, ok := c.root.Mnemonic()
			entropy, eok := c.root.Entropy()
			if ok != c.knowsWord || eok != c.knowsWord {
				t.Fatalf("Mnemonic ok = %v, Entropy ok = %v, want %v", ok, eok, c.knowsWord)
			}
			if c.knowsWord && (words != abandonArt || !bytes.Equal(entropy, make([]byte, 32))) {
				t.Fatalf("words %q, entropy %x", words, entropy)
			}
			if !c.knowsWord && (words != "" || entropy != nil) {
				t.Fatal("a Root from a seed returned words")
			}
		})
	}

	// A random phrase survives words → Root → entropy → Root → words.
	phrase, err := NewMnemonic()
	if err != nil {
		t.Fatal(err)
	}
	r1, err := RootFromMnemonic(phrase)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := r1.Entropy()
	r2, err := RootFromEntropy(e)
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := r2.Mnemonic(); w != phrase || !bytes.Equal(r1.Seed(), r2.Seed()) {
		t.Fatalf("round trip changed the root: %q", w)
	}

	// Accessors hand out copies.
	s := fromSeed.Seed()
	s[0] ^= 0xff
	e[0] ^= 0xff
	if !bytes.Equal(fromSeed.Seed(), seed) {
		t.Fatal("Seed returned the Root's own buffer")
	}
	if again, _ := r1.Entropy(); bytes.Equal(again, e) {
		t.Fatal("Entropy returned the Root's own buffer")
	}
	// The seed given is copied, not kept.
	seedCopy := bytes.Clone(seed)
	r3, _ := RootFromSeed(seedCopy)
	clear(seedCopy)
	if !bytes.Equal(r3.Seed(), seed) {
		t.Fatal("RootFromSeed kept the caller's buffer")
	}
}

func TestRootBadInput(t *testing.T) {
	for _, c := range []struct {
		name     string
		make     func() (*Root, error)
		mnemonic bool // the error must wrap ErrBadMnemonic
	}{
		{"12 words", func() (*Root, error) { return RootFromMnemonic(strings.Repeat("abandon ", 11) + "about") }, true},
		{"bad checksum", func() (*Root, error) { return RootFromMnemonic(strings.Repeat("abandon ", 24)) }, true},
		{"unknown word", func() (*Root, error) { return RootFromMnemonic(strings.Repeat("abandon ", 23) + "fooo") }, true},
		{"empty phrase", func() (*Root, error) { return RootFromMnemonic("") }, true},
		{"entropy nil", func() (*Root, error) { return RootFromEntropy(nil) }, false},
		{"entropy 31", func() (*Root, error) { return RootFromEntropy(make([]byte, 31)) }, false},
		{"entropy 33", func() (*Root, error) { return RootFromEntropy(make([]byte, 33)) }, false},
		{"entropy 64", func() (*Root, error) { return RootFromEntropy(make([]byte, 64)) }, false},
		{"seed nil", func() (*Root, error) { return RootFromSeed(nil) }, false},
		{"seed 32", func() (*Root, error) { return RootFromSeed(make([]byte, 32)) }, false},
		{"seed 63", func() (*Root, error) { return RootFromSeed(make([]byte, 63)) }, false},
		{"seed 65", func() (*Root, error) { return RootFromSeed(make([]byte, 65)) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := c.make()
			if err == nil || r != nil {
				t.Fatalf("got %v, %v; want an error", r, err)
			}
			if errors.Is(err, ErrBadMnemonic) != c.mnemonic {
				t.Fatalf("error %v: wraps ErrBadMnemonic = %v, want %v", err, !c.mnemonic, c.mnemonic)
			}
		})
	}
}

// TestRootRedacted prints a Root of a random phrase every way fmt and
// encoding/json can and finds no trace of its seed, entropy or words.
func TestRootRedacted(t *testing.T) {
	phrase, err := NewMnemonic()
	if err != nil {
		t.Fatal(err)
	}
	r, err := RootFromMnemonic(phrase)
	if err != nil {
		t.Fatal(err)
	}
	seed := r.Seed()
	entropy, _ := r.Entropy()
	words := strings.Fields(phrase)
	leaks := func(out string) string {
		for name, secret := range map[string][]byte{"seed": seed, "entropy": entropy} {
			for _, form := range []string{
				hex.EncodeToString(secret[:6]),
				strings.ToUpper(hex.EncodeToString(secret[:6])),
				fmt.Sprintf("% x", secret[:6]),
				fmt.Sprintf("% X", secret[:6]),
				strings.Trim(fmt.Sprint(secret[:6]), "[]"),
				strings.Trim(fmt.Sprintf("%#v", secret[:6]), "[]byte{}"),
				string(secret[:6]),
				base64.StdEncoding.EncodeToString(secret)[:8],
			} {
				if strings.Contains(out, form) {
					return fmt.Sprintf("%s as %q", name, form)
				}
			}
		}
		for i := 0; i+1 < len(words); i++ {
			if pair := words[i] + " " + words[i+1]; strings.Contains(out, pair) {
				return fmt.Sprintf("words %q", pair)
			}
		}
		return ""
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "% x", "%q", "%d", "%60v", "%-v", "%08.3f", "%t", "%p"}

	// The Root itself, by pointer or by value, prints exactly the redacted form.
	for _, v := range []any{r, *r} {
		for _, verb := range verbs {
			if verb == "%p" {
				continue // an address, not the Root
			}
			if out := fmt.Sprintf(verb, v); out != "identity.Root(redacted)" {
				t.Errorf("Sprintf(%q, %T) = %q", verb, v, out)
			}
		}
	}
	if r.String() != "identity.Root(redacted)" || r.GoString() != "identity.Root(redacted)" {
		t.Errorf("String %q, GoString %q", r.String(), r.GoString())
	}

	// Inside other values, exported or not, it leaks nothing either.
	type holder struct {
		Exported *Root
		Value    Root
		hidden   *Root
		hiddenV  Root
	}
	h := holder{r, *r, r, *r}
	containers := []any{h, &h, []*Root{r}, []Root{*r}, map[string]*Root{"k": r}, struct{ r Root }{*r}, [1]Root{*r}}
	for _, v := range containers {
		for _, verb := range verbs {
			if what := leaks(fmt.Sprintf(verb, v)); what != "" {
				t.Errorf("Sprintf(%q, %T) shows the %s", verb, v, what)
			}
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if what := leaks(string(b)); what != "" {
			t.Errorf("json.Marshal(%T) shows the %s", v, what)
		}
	}

	// The check itself sees a leak when there is one.
	if leaks(fmt.Sprintf("%x", seed)) == "" || leaks(fmt.Sprint(entropy)) == "" || leaks(phrase) == "" {
		t.Fatal("leak check misses a plain secret")
	}

	// A wiped Root still prints (and does not panic).
	r.Wipe()
	if got := fmt.Sprintf("%v %+v", r, *r); got != "identity.Root(redacted) identity.Root(redacted)" {
		t.Fatalf("wiped Root prints %q", got)
	}
}

func TestRootWipe(t *testing.T) {
	r, err := RootFromMnemonic(abandonArt)
	if err != nil {
		t.Fatal(err)
	}
	op := r.OperationalKey(0, 1) // derived before the wipe
	opSeed := bytes.Clone(op.Seed())

	c := *r // a copy shares the secret
	c.Wipe()
	s := r.s()
	if !s.wiped || s.hasEntropy {
		t.Fatal("wiping a copy did not wipe the Root")
	}
	if !bytes.Equal(s.seed[:], make([]byte, 64)) || !bytes.Equal(s.entropy[:], make([]byte, 32)) {
		t.Fatalf("after Wipe: seed %x entropy %x", s.seed, s.entropy)
	}
	if !bytes.Equal(op.Seed(), opSeed) {
		t.Fatal("Wipe changed a key derived before it")
	}
	r.Wipe() // twice is fine
	var nilRoot *Root
	nilRoot.Wipe()
	(&Root{}).Wipe()

	uses := map[string]func(*Root){
		"Seed":           func(r *Root) { r.Seed() },
		"Entropy":        func(r *Root) { r.Entropy() },
		"Mnemonic":       func(r *Root) { r.Mnemonic() },
		"PersonaRoot":    func(r *Root) { r.PersonaRoot(0) },
		"RecoveryKey":    func(r *Root) { _, _ = r.RecoveryKey(0) },
		"OperationalKey": func(r *Root) { r.OperationalKey(0, 1) },
		"EncryptionKey0": func(r *Root) { _, _ = r.EncryptionKey0(0, 1) },
	}
	for _, bad := range []struct {
		name string
		root *Root
		want string
	}{
		{"wiped", r, "wiped"},
		{"nil", nil, "empty"},
		{"zero", &Root{}, "empty"},
	} {
		for name, use := range uses {
			t.Run(bad.name+"/"+name, func(t *testing.T) {
				msg := panics(func() { use(bad.root) })
				if !strings.Contains(msg, bad.want) {
					t.Fatalf("panic %q, want one mentioning %q", msg, bad.want)
				}
			})
		}
	}
}

// panics runs f and returns what it panicked with, or "" if it did not.
func panics(f func()) (msg string) {
	defer func() {
		if p := recover(); p != nil {
			msg = fmt.Sprint(p)
			if msg == "" {
				msg = "(empty panic)"
			}
		}
	}()
	f()
	return ""
}

func TestRootIndexAndEpochBounds(t *testing.T) {
	r, err := RootFromMnemonic(abandonArt)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Wipe()
	for _, c := range []struct {
		index, epoch uint32
		want         string // "" for no panic, else a word of the panic
	}{
		{0, 0, "epoch 0 out of range"},
		{0, 1, ""},
		{0, 2, ""},
		{0, MaxEpoch, ""},
		{0, MaxEpoch + 1, "out of range"},
		{0, math.MaxUint32, "out of range"},
		{MaxPersonaIndex, 1, ""},
		{MaxPersonaIndex + 1, 1, "persona index"},
		{math.MaxUint32, 1, "persona index"},
		{MaxPersonaIndex + 1, 0, "persona index"},
	} {
		for _, f := range []struct {
			name string
			use  func()
		}{
			{"OperationalKey", func() { r.OperationalKey(c.index, c.epoch) }},
			{"EncryptionKey0", func() {
				if _, err := r.EncryptionKey0(c.index, c.epoch); err != nil {
					t.Errorf("EncryptionKey0: %v", err)
				}
			}},
		} {
			t.Run(fmt.Sprintf("%s/%d/%d", f.name, c.index, c.epoch), func(t *testing.T) {
				msg := panics(f.use)
				if c.want == "" && msg != "" {
					t.Fatalf("panicked: %s", msg)
				}
				if c.want != "" && !strings.Contains(msg, c.want) {
					t.Fatalf("panic %q, want one mentioning %q", msg, c.want)
				}
			})
		}
	}
	for _, c := range []struct {
		index uint32
		panic bool
	}{{0, false}, {MaxPersonaIndex, false}, {MaxPersonaIndex + 1, true}, {math.MaxUint32, true}} {
		for name, use := range map[string]func(){
			"PersonaRoot": func() { r.PersonaRoot(c.index) },
			"RecoveryKey": func() { _, _ = r.RecoveryKey(c.index) },
		} {
			t.Run(fmt.Sprintf("%s/%d", name, c.index), func(t *testing.T) {
				if got := panics(use) != ""; got != c.panic {
					t.Fatalf("panicked = %v, want %v", got, c.panic)
				}
			})
		}
	}
}

// Every key the words give is a different key: no path, epoch or persona
// shares one, nor does format 1's derived encryption key.
func TestRootKeySeparation(t *testing.T) {
	r, err := RootFromMnemonic(abandonArt)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Wipe()
	seen := map[string]string{}
	add := func(name string, pub []byte) {
		t.Helper()
		if other, ok := seen[string(pub)]; ok {
			t.Errorf("%s and %s are the same key", name, other)
		}
		seen[string(pub)] = name
	}
	hpkePub := func(k hpke.PrivateKey, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return k.PublicKey().Bytes()
	}
	for _, i := range []uint32{0, 1} {
		root := r.PersonaRoot(i)
		add(fmt.Sprintf("root %d", i), root.Public().(ed25519.PublicKey))
		add(fmt.Sprintf("recovery %d", i), hpkePub(r.RecoveryKey(i)))
		add(fmt.Sprintf("format-1 encryption %d", i), hpkePub(EncryptionKey(root)))
		for _, e := range []uint32{1, 2, MaxEpoch} {
			add(fmt.Sprintf("operational %d/%d", i, e), r.OperationalKey(i, e).Public().(ed25519.PublicKey))
			add(fmt.Sprintf("encryption0 %d/%d", i, e), hpkePub(r.EncryptionKey0(i, e)))
		}
	}
}

// What is sealed to a recovery or generation-0 public key opens with the
// key derived again; a key's storage form reads back as the same key.
func TestRootEncryptionKeys(t *testing.T) {
	r, err := RootFromMnemonic(abandonArt)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Wipe()
	for name, derive := range map[string]func() (hpke.PrivateKey, error){
		"recovery":    func() (hpke.PrivateKey, error) { return r.RecoveryKey(1) },
		"encryption0": func() (hpke.PrivateKey, error) { return r.EncryptionKey0(1, 3) },
		"random":      NewEncryptionKey,
	} {
		t.Run(name, func(t *testing.T) {
			k, err := derive()
			if err != nil {
				t.Fatal(err)
			}
			if k.KEM().ID() != EncryptionKEM().ID() {
				t.Fatalf("KEM %#x", k.KEM().ID())
			}
			pub := k.PublicKey()
			if len(pub.Bytes()) != 1216 {
				t.Fatalf("public key is %d bytes, want 1216", len(pub.Bytes()))
			}
			if id := RecoveryID(pub); id != sha256.Sum256(pub.Bytes()) {
				t.Fatal("RecoveryID is not SHA-256 of the public key")
			}
			stored, err := k.Bytes()
			if err != nil || len(stored) != 32 {
				t.Fatalf("storage form: %d bytes, %v", len(stored), err)
			}
			again, err := EncryptionKEM().NewPrivateKey(stored)
			if err != nil || !bytes.Equal(again.PublicKey().Bytes(), pub.Bytes()) {
				t.Fatalf("storage form does not read back: %v", err)
			}
			ct, err := hpke.Seal(pub, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), []byte("info"), []byte("content key"))
			if err != nil {
				t.Fatal(err)
			}
			opener := again
			if name != "random" {
				if opener, err = derive(); err != nil {
					t.Fatal(err)
				}
			}
			if pt, err := hpke.Open(opener, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), []byte("info"), ct); err != nil || string(pt) != "content key" {
				t.Fatalf("open: %q, %v", pt, err)
			}
		})
	}

	a, _ := NewEncryptionKey()
	b, _ := NewEncryptionKey()
	if bytes.Equal(a.PublicKey().Bytes(), b.PublicKey().Bytes()) {
		t.Fatal("two random encryption keys are the same")
	}
	x, _ := r.EncryptionKey0(0, 1)
	y, _ := r.EncryptionKey0(0, 1)
	if !bytes.Equal(x.PublicKey().Bytes(), y.PublicKey().Bytes()) {
		t.Fatal("EncryptionKey0 is not deterministic")
	}
}
