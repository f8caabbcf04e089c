package console

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/memkv"
)

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newConsole(t *testing.T) (*Console, *clock, *memkv.Store) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	db := memkv.New()
	c, err := New(db, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return c, clk, db
}

func TestParseCode(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"ABCD-EFGH-JKMN", "ABCDEFGHJKMN", true},
		{"abcd-efgh-jkmn", "ABCDEFGHJKMN", true},
		{"abcdefghjkmn", "ABCDEFGHJKMN", true},
		{" abcd efgh jkmn ", "ABCDEFGHJKMN", true},
		{"AB-CD-EF-GH-JK-MN", "ABCDEFGHJKMN", true},
		{"2345-6789-ZZZZ", "23456789ZZZZ", true},
		{"ABCD-EFGH-JKM", "", false},   // too short
		{"ABCD-EFGH-JKMNP", "", false}, // too long
		{"ABCD-EFGH-JKM0", "", false},  // 0 is not in the alphabet
		{"ABCD-EFGH-JKMO", "", false},  // nor O
		{"ABCD-EFGH-JKM1", "", false},  // nor 1
		{"ABCD-EFGH-JKMI", "", false},  // nor I
		{"ABCD-EFGH-JKML", "", false},  // nor L
		{"ABCD_EFGH_JKMN", "", false},  // only dashes and spaces separate
		{"ABCD-EFGH-JKMÑ", "", false},  // not ASCII
		{"", "", false},                // empty
		{strings.Repeat("-", 100), "", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseCode(tc.in)
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("ParseCode(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadCode) {
				t.Fatalf("error %v is not ErrBadCode", err)
			}
		})
	}
}

func TestPairCodeShape(t *testing.T) {
	c, _, _ := newConsole(t)
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 200 {
		p, err := c.Pair("", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Code) != 14 || p.Code[4] != '-' || p.Code[9] != '-' {
			t.Fatalf("code %q is not XXXX-XXXX-XXXX", p.Code)
		}
		raw, err := ParseCode(p.Code)
		if err != nil {
			t.Fatalf("own code %q does not parse: %v", p.Code, err)
		}
		if FormatCode(raw) != p.Code {
			t.Fatalf("FormatCode(%q) = %q", raw, FormatCode(raw))
		}
		if seen[raw] {
			t.Fatalf("code %q drawn twice", raw)
		}
		seen[raw] = true
		for _, r := range raw {
			counts[r]++
		}
		c.mu.Lock()
		delete(c.pending, raw) // stay under the pending cap
		c.mu.Unlock()
	}
	// 2400 symbols over 31: every symbol shows up (expected ~77 each).
	if len(counts) != len(Alphabet) {
		t.Fatalf("only %d of %d symbols drawn: %v", len(counts), len(Alphabet), counts)
	}
}

func TestPairValidates(t *testing.T) {
	c, clk, _ := newConsole(t)
	tests := []struct {
		name      string
		scope     Scope
		ttl       time.Duration
		label     string
		wantErr   bool
		wantScope Scope
		wantTTL   time.Duration
	}{
		{"defaults", "", 0, "", false, ScopeAdmin, DefaultTTL},
		{"read scope", ScopeRead, time.Minute, "tablet", false, ScopeRead, time.Minute},
		{"max ttl", ScopeAdmin, MaxTTL, "", false, ScopeAdmin, MaxTTL},
		{"ttl too long", ScopeAdmin, MaxTTL + time.Second, "", true, "", 0},
		{"negative ttl", ScopeAdmin, -time.Second, "", true, "", 0},
		{"unknown scope", "root", 0, "", true, "", 0},
		{"long name", "", 0, strings.Repeat("x", MaxNameBytes+1), true, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := c.Pair(tc.label, tc.scope, tc.ttl)
			if tc.wantErr {
				if !errors.Is(err, ErrBadRequest) {
					t.Fatalf("err = %v, want ErrBadRequest", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Scope != tc.wantScope || !p.Expires.Equal(clk.Now().Add(tc.wantTTL)) || p.Name != tc.label {
				t.Fatalf("pairing %+v; want scope %s, ttl %v", p, tc.wantScope, tc.wantTTL)
			}
		})
	}
}

func TestRedeem(t *testing.T) {
	tests := []struct {
		name    string
		run     func(c *Console, clk *clock, code string) (Session, error)
		wantErr error
		check   func(t *testing.T, s Session)
	}{
		{"exact code", func(c *Console, _ *clock, code string) (Session, error) {
			s, _, err := c.Redeem(code, "Phone")
			return s, err
		}, nil, func(t *testing.T, s Session) {
			if s.Name != "Phone" || s.Scope != ScopeRead {
				t.Fatalf("session %+v", s)
			}
		}},
		{"lower case without dashes", func(c *Console, _ *clock, code string) (Session, error) {
			s, _, err := c.Redeem(strings.ToLower(strings.ReplaceAll(code, "-", "")), "")
			return s, err
		}, nil, func(t *testing.T, s Session) {
			if s.Name != "paired" {
				t.Fatalf("name %q: want the pairing's name", s.Name)
			}
		}},
		{"just before expiry", func(c *Console, clk *clock, code string) (Session, error) {
			clk.Add(5*time.Minute - time.Millisecond)
			s, _, err := c.Redeem(code, "")
			return s, err
		}, nil, nil},
		{"expired", func(c *Console, clk *clock, code string) (Session, error) {
			clk.Add(5 * time.Minute)
			s, _, err := c.Redeem(code, "")
			return s, err
		}, ErrBadCode, nil},
		{"used twice", func(c *Console, _ *clock, code string) (Session, error) {
			if _, _, err := c.Redeem(code, ""); err != nil {
				return Session{}, err
			}
			s, _, err := c.Redeem(code, "")
			return s, err
		}, ErrBadCode, nil},
		{"wrong code", func(c *Console, _ *clock, code string) (Session, error) {
			s, _, err := c.Redeem("2222-2222-2222", "")
			return s, err
		}, ErrBadCode, nil},
		{"malformed code", func(c *Console, _ *clock, code string) (Session, error) {
			s, _, err := c.Redeem("hello", "")
			return s, err
		}, ErrBadCode, nil},
		{"name too long", func(c *Console, _ *clock, code string) (Session, error) {
			s, _, err := c.Redeem(code, strings.Repeat("n", MaxNameBytes+1))
			return s, err
		}, ErrBadRequest, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, clk, _ := newConsole(t)
			p, err := c.Pair("paired", ScopeRead, 5*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			s, err := tc.run(c, clk, p.Code)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

func TestSessionLifecycle(t *testing.T) {
	c, clk, db := newConsole(t)
	p, err := c.Pair("", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	s, secret, err := c.Redeem(p.Code, "Phone")
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != 43 || strings.ContainsAny(secret, "+/=") {
		t.Fatalf("secret %q is not 32 bytes of unpadded base64url", secret)
	}
	got, err := c.Lookup(secret)
	if err != nil || got != s {
		t.Fatalf("Lookup = %+v, %v; want %+v", got, err, s)
	}
	// The store holds the hash, never the secret.
	it := db.Iter(kv.IterOptions{})
	for it.Next() {
		if strings.Contains(string(it.Value()), secret) || strings.Contains(string(it.Key()), secret) {
			t.Fatal("the secret is stored in the clear")
		}
	}
	it.Close()

	// A secret one character off, or not base64url, or the ID, is unknown.
	for _, bad := range []string{secret[:20] + flip(secret[20]) + secret[21:], "", "not base64!", s.ID, secret + "AA"} {
		if _, err := c.Lookup(bad); !errors.Is(err, ErrUnknownSession) {
			t.Errorf("Lookup(%q) = %v, want ErrUnknownSession", bad, err)
		}
	}

	// Touch writes at most once a minute.
	clk.Add(30 * time.Second)
	t1, err := c.Touch(s)
	if err != nil || !t1.LastSeen.Equal(s.LastSeen) {
		t.Fatalf("touch after 30s moved LastSeen: %+v, %v", t1, err)
	}
	clk.Add(31 * time.Second)
	t2, err := c.Touch(s)
	if err != nil || !t2.LastSeen.Equal(clk.Now()) {
		t.Fatalf("touch after 61s: %+v, %v; want LastSeen %v", t2, err, clk.Now())
	}
	if again, _ := c.Lookup(secret); !again.LastSeen.Equal(clk.Now()) {
		t.Fatalf("LastSeen not stored: %+v", again)
	}

	// A second session; List is oldest first.
	clk.Add(time.Second)
	s2, secret2, err := c.Create("laptop", ScopeRead)
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.List()
	if err != nil || len(l) != 2 || l[0].ID != s.ID || l[1].ID != s2.ID {
		t.Fatalf("List = %+v, %v", l, err)
	}

	// Sessions survive a new Console over the same store (a restart).
	c2, err := New(db, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Lookup(secret2); err != nil {
		t.Fatalf("session lost over a restart: %v", err)
	}

	// Revocation works at once; revoking again is unknown.
	if err := c2.Revoke(s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Lookup(secret); !errors.Is(err, ErrUnknownSession) {
		t.Fatalf("revoked session still looks up: %v", err)
	}
	if _, err := c2.Touch(s); !errors.Is(err, ErrUnknownSession) {
		t.Fatalf("revoked session can be touched: %v", err)
	}
	if err := c2.Revoke(s.ID); !errors.Is(err, ErrUnknownSession) {
		t.Fatalf("second revoke: %v", err)
	}
	for _, id := range []string{"", "nope", strings.Repeat("a", 100)} {
		if err := c2.Revoke(id); !errors.Is(err, ErrUnknownSession) {
			t.Fatalf("Revoke(%q) = %v", id, err)
		}
	}
	if l, _ := c2.List(); len(l) != 1 || l[0].ID != s2.ID {
		t.Fatalf("after revoke List = %+v", l)
	}
}

func TestBruteForceGuard(t *testing.T) {
	c, clk, _ := newConsole(t)
	p, err := c.Pair("", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for i := range MaxFailures {
		if _, _, err := c.Redeem("2222-2222-2222", ""); !errors.Is(err, ErrBadCode) {
			t.Fatalf("attempt %d: %v", i, err)
		}
		clk.Add(time.Second)
	}
	// The 11th attempt within the minute is refused, even with the right code.
	if _, _, err := c.Redeem(p.Code, ""); !errors.Is(err, ErrTooManyAttempts) {
		t.Fatalf("right code during lockout: %v, want ErrTooManyAttempts", err)
	}
	if _, _, err := c.Redeem("3333-3333-3333", ""); !errors.Is(err, ErrTooManyAttempts) {
		t.Fatalf("wrong code during lockout: %v", err)
	}
	// Once the first failure is a minute old, one attempt is allowed again,
	// and the refused attempts did not extend the lockout.
	clk.Add(FailureWindow - time.Duration(MaxFailures)*time.Second)
	if _, _, err := c.Redeem(p.Code, ""); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"ABCD-EFGH-JKMN", "abcd efgh jkmn", "", "0O1IL", "ABCD-EFGH-JKM", strings.Repeat("2", 13), "ÄBCD-EFGH-JKMN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw, err := ParseCode(s)
		if err != nil {
			if !errors.Is(err, ErrBadCode) {
				t.Fatalf("error %v is not ErrBadCode", err)
			}
			return
		}
		if len(raw) != CodeLen {
			t.Fatalf("ParseCode(%q) = %q: not %d symbols", s, raw, CodeLen)
		}
		for _, r := range raw {
			if !strings.ContainsRune(Alphabet, r) {
				t.Fatalf("ParseCode(%q) = %q holds %q", s, raw, r)
			}
		}
		again, err := ParseCode(FormatCode(raw))
		if err != nil || again != raw {
			t.Fatalf("round trip of %q: %q, %v", raw, again, err)
		}
		if lower, err := ParseCode(strings.ToLower(s)); err != nil || lower != raw {
			t.Fatalf("lower case of %q: %q, %v", s, lower, err)
		}
	})
}

func flip(b byte) string {
	if b == 'A' {
		return "B"
	}
	return "A"
}

// TestBruteForceGuardPerSource: failures from one source, or a flood from
// many, do not lock out a source that has not failed; the total number of
// guesses stays bounded.
func TestBruteForceGuardPerSource(t *testing.T) {
	const wrong = "2222-2222-2222"
	fail := func(t *testing.T, c *Console, src string, n int) {
		t.Helper()
		for i := range n {
			if _, _, err := c.RedeemFrom(src, wrong, ""); !errors.Is(err, ErrBadCode) {
				t.Fatalf("%s attempt %d: %v", src, i, err)
			}
		}
	}
	tests := []struct {
		name  string
		flood func(t *testing.T, c *Console)
		owner error // what the owner's right code meets, from a source that has not failed
		after string
	}{
		{"one hostile source", func(t *testing.T, c *Console) {
			fail(t, c, "192.0.2.66", MaxFailures)
			if _, _, err := c.RedeemFrom("192.0.2.66", wrong, ""); !errors.Is(err, ErrTooManyAttempts) {
				t.Fatalf("the hostile source is not held: %v", err)
			}
		}, nil, ""},
		{"a flood from many sources", func(t *testing.T, c *Console) {
			for i := range MaxAllFailures / MaxFailures {
				fail(t, c, fmt.Sprintf("192.0.2.%d", i), MaxFailures)
			}
			// Now a source that failed once is refused too.
			fail(t, c, "198.51.100.1", 1)
			if _, _, err := c.RedeemFrom("198.51.100.1", wrong, ""); !errors.Is(err, ErrTooManyAttempts) {
				t.Fatalf("a failing source during the flood: %v", err)
			}
		}, nil, ""},
		{"more sources than the guard keeps", func(t *testing.T, c *Console) {
			for i := range MaxSources {
				fail(t, c, fmt.Sprintf("2001:db8:%x::", i), 1)
			}
		}, ErrTooManyAttempts, "after the window"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, clk, _ := newConsole(t)
			p, err := c.Pair("", "", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			tc.flood(t, c)
			_, _, err = c.RedeemFrom("127.0.0.1", p.Code, "")
			if !errors.Is(err, tc.owner) && err != tc.owner {
				t.Fatalf("the owner's right code: %v, want %v", err, tc.owner)
			}
			if tc.after != "" {
				clk.Add(FailureWindow)
				if _, _, err := c.RedeemFrom("127.0.0.1", p.Code, ""); err != nil {
					t.Fatalf("%s: %v", tc.after, err)
				}
			}
		})
	}
}
