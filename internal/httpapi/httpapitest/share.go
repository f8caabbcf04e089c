package httpapitest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/events"
	"github.com/peer-node/peer/internal/httpapi"
)

// Fixed values of NewShare's sharing side.
const (
	OwnMiMei    = "mownownownownownownownownownownow" // ours: may be shared
	InMiMei     = "minininininininininininininininin" // shared with us by PersonaCarol
	PublicMiMei = "mpubpubpubpubpubpubpubpubpubpubpu" // public, fetchable with its owner named
	OwnerPublic = "did:key:zPublisher"                // PublicMiMei's owner
	// The contacts Share knows: a ref is the pet name or the persona.
	PersonaCarol = "did:key:zCarol"
	PersonaDave  = "did:key:zDave"
)

// shareContacts maps pet names to personas.
var shareContacts = map[string]string{"carol": PersonaCarol, "dave": PersonaDave}

// Share is an in-memory httpapi.ShareBackend. Only OwnMiMei can be shared
// (another known MiMei is not_owner, an unknown one not_found) with the
// contacts carol and dave (any other ref is not_found). InMiMei, shared
// with us by carol, has InVersions versions to fetch; PublicMiMei has one
// and needs OwnerPublic named unless subscribed. With Bus set, each
// version fetched is announced as share.progress then share.received, as
// the node does. Use NewShare.
type Share struct {
	Bus *events.Bus // where fetches publish their progress; nil = nowhere

	mu        sync.Mutex
	sharing   apiv1.Sharing
	incoming  apiv1.Incoming
	have      map[string]uint64 // versions held, by MiMei
	subs      map[string]apiv1.Subscription
	fail      map[string]error
	calls     int
	lastLimit int
	clock     time.Time
}

// InVersions is the number of versions of InMiMei there are to fetch.
const InVersions = 2

// NewShare returns the sharing side with OwnMiMei shared with nobody,
// InMiMei offered by carol and nothing fetched.
func NewShare() *Share {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &Share{
		sharing: apiv1.Sharing{MiMei: OwnMiMei, Owner: Persona, Published: 3},
		incoming: apiv1.Incoming{MiMei: InMiMei, From: PersonaCarol, FromName: "carol", Author: PersonaCarol,
			AppType: "notes", Received: t0},
		have:  map[string]uint64{},
		subs:  map[string]apiv1.Subscription{},
		fail:  map[string]error{},
		clock: t0,
	}
}

// Fail makes the method of that name (e.g. "Share") return err until
// cleared with a nil err.
func (s *Share) Fail(method string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.fail, method)
		return
	}
	s.fail[method] = err
}

// Calls returns how many calls reached the backend.
func (s *Share) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// LastLimit returns the limit of the last AccessLog call.
func (s *Share) LastLimit() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastLimit
}

func serrf(code, format string, args ...any) error { return httpapi.ShareErrorf(code, format, args...) }

// enter counts a call; it returns the error set for method. s.mu is held.
func (s *Share) enter(method string) error {
	s.calls++
	return s.fail[method]
}

func (s *Share) now() time.Time {
	s.clock = s.clock.Add(time.Second)
	return s.clock
}

// known reports whether this node knows mid at all.
func known(mid string) bool { return mid == OwnMiMei || mid == InMiMei || mid == PublicMiMei }

func (s *Share) own(mid string) error {
	switch {
	case mid == OwnMiMei:
		return nil
	case known(mid):
		return serrf(apiv1.CodeNotOwner, "only the owner of %s may share it", mid)
	}
	return serrf(apiv1.CodeNotFound, "no MiMei %s", mid)
}

func contact(ref string) (apiv1.Sharee, error) {
	if p, ok := shareContacts[ref]; ok {
		return apiv1.Sharee{Persona: p, Name: ref}, nil
	}
	for n, p := range shareContacts {
		if p == ref {
			return apiv1.Sharee{Persona: p, Name: n}, nil
		}
	}
	return apiv1.Sharee{}, serrf(apiv1.CodeNotFound, "no contact %q", ref)
}

func (s *Share) current() apiv1.Sharing {
	sh := s.sharing
	sh.Readers, sh.Writers = slices.Clone(sh.Readers), slices.Clone(sh.Writers)
	return sh
}

func without(l []apiv1.Sharee, persona string) []apiv1.Sharee {
	return slices.DeleteFunc(l, func(e apiv1.Sharee) bool { return e.Persona == persona })
}

func (s *Share) Share(_ context.Context, mid string, req apiv1.ShareRequest) (apiv1.Sharing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Share"); err != nil {
		return apiv1.Sharing{}, err
	}
	if err := s.own(mid); err != nil {
		return apiv1.Sharing{}, err
	}
	if req.Public {
		s.sharing.Public, s.sharing.Epoch = true, 0
		return s.current(), nil
	}
	c, err := contact(req.With)
	if err != nil {
		return apiv1.Sharing{}, err
	}
	sh := &s.sharing
	sh.Readers, sh.Writers = without(sh.Readers, c.Persona), without(sh.Writers, c.Persona)
	if req.Write {
		sh.Writers = append(sh.Writers, c)
	} else {
		sh.Readers = append(sh.Readers, c)
	}
	if !sh.Public && sh.Epoch == 0 {
		sh.Epoch = 1
	}
	return s.current(), nil
}

func (s *Share) Unshare(_ context.Context, mid, ref string) (apiv1.Sharing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Unshare"); err != nil {
		return apiv1.Sharing{}, err
	}
	if err := s.own(mid); err != nil {
		return apiv1.Sharing{}, err
	}
	c, err := contact(ref)
	if err != nil {
		return apiv1.Sharing{}, err
	}
	sh := &s.sharing
	n := len(sh.Readers) + len(sh.Writers)
	sh.Readers, sh.Writers = without(sh.Readers, c.Persona), without(sh.Writers, c.Persona)
	if len(sh.Readers)+len(sh.Writers) == n {
		return apiv1.Sharing{}, serrf(apiv1.CodeNotShared, "%s is not shared with %s", mid, ref)
	}
	if !sh.Public {
		sh.Epoch++ // the key rotates
	}
	return s.current(), nil
}

func (s *Share) Sharing(_ context.Context, mid string) (apiv1.Sharing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Sharing"); err != nil {
		return apiv1.Sharing{}, err
	}
	if err := s.own(mid); err != nil {
		return apiv1.Sharing{}, err
	}
	sh := s.current()
	sh.Subscribers = len(sh.Readers) + len(sh.Writers)
	return sh, nil
}

// Revoke plays the owner taking our access to InMiMei away, as the node
// records a Revoke request: the subscription ends and the offer says so.
func (s *Share) Revoke(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.incoming.Revoked = &at
	delete(s.subs, InMiMei)
}

func (s *Share) SharedWithMe(context.Context) ([]apiv1.Incoming, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("SharedWithMe"); err != nil {
		return nil, err
	}
	in := s.incoming
	_, in.Subscribed = s.subs[InMiMei]
	in.Versions = int(s.have[InMiMei])
	return []apiv1.Incoming{in}, nil
}

// versions returns how many versions mid has to fetch, given owner.
func (s *Share) versions(mid, owner string) (uint64, error) {
	switch {
	case mid == InMiMei && (owner == "" || owner == PersonaCarol || owner == "carol"):
		return InVersions, nil
	case mid == PublicMiMei && (owner == OwnerPublic || s.subs[mid].Owner == OwnerPublic):
		return 1, nil
	case mid == PublicMiMei && owner == "":
		return 0, serrf(apiv1.CodeUnavailable, "no provider of %s answered: name its owner", mid)
	case mid == OwnMiMei:
		return 0, serrf(apiv1.CodeConflict, "%s is ours: there is nothing to fetch", mid)
	}
	return 0, serrf(apiv1.CodeNotShared, "%s is not shared with us", mid)
}

// fetch brings versions from up to (not including) to of mid, announcing
// each on the bus.
func (s *Share) fetch(mid string, from, to uint64) apiv1.FetchResult {
	res := apiv1.FetchResult{MiMei: mid}
	for v := from; v < to; v++ {
		const blocks, size = 4, 4 << 20
		if s.Bus != nil {
			for done := uint64(1); done <= blocks; done++ {
				s.Bus.Publish("share.progress", map[string]any{"mimei": mid, "version": v, "done": done,
					"known": blocks, "total": blocks, "bytes": done * size / blocks, "total_bytes": size})
			}
			s.Bus.Publish("share.received", map[string]any{"mimei": mid, "version": v, "fetched": blocks,
				"skipped": 0, "bytes": size, "ms": 20})
		}
		res.Versions = append(res.Versions, apiv1.Fetched{Version: v, Blocks: blocks, Bytes: size, Fetched: blocks})
		s.have[mid] = max(s.have[mid], v+1)
	}
	return res
}

func (s *Share) Subscribe(_ context.Context, req apiv1.Subscribe) (apiv1.FetchResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Subscribe"); err != nil {
		return apiv1.FetchResult{}, err
	}
	n, err := s.versions(req.MiMei, req.Owner)
	if err != nil {
		return apiv1.FetchResult{}, err
	}
	owner := req.Owner
	if c, err := contact(owner); err == nil {
		owner = c.Persona
	}
	if owner == "" {
		owner = PersonaCarol
	}
	t := s.now()
	res := s.fetch(req.MiMei, s.have[req.MiMei], n)
	s.subs[req.MiMei] = apiv1.Subscription{MiMei: req.MiMei, Owner: owner, Since: t, Checked: t, Have: s.have[req.MiMei]}
	return res, nil
}

func (s *Share) Unsubscribe(_ context.Context, mid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Unsubscribe"); err != nil {
		return err
	}
	if _, ok := s.subs[mid]; !ok {
		return serrf(apiv1.CodeNotFound, "not subscribed to %s", mid)
	}
	delete(s.subs, mid)
	return nil
}

func (s *Share) Subscriptions(context.Context) ([]apiv1.Subscription, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Subscriptions"); err != nil {
		return nil, err
	}
	var l []apiv1.Subscription
	for _, sub := range s.subs {
		l = append(l, sub)
	}
	slices.SortFunc(l, func(a, b apiv1.Subscription) int { return a.Since.Compare(b.Since) })
	return l, nil
}

func (s *Share) Fetch(_ context.Context, mid string, req apiv1.FetchRequest) (apiv1.FetchResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Fetch"); err != nil {
		return apiv1.FetchResult{}, err
	}
	n, err := s.versions(mid, req.Owner)
	if err != nil {
		return apiv1.FetchResult{}, err
	}
	if req.Version == nil {
		return s.fetch(mid, s.have[mid], n), nil
	}
	v := *req.Version
	if v >= n {
		return apiv1.FetchResult{}, serrf(apiv1.CodeNoVersion, "version %d of %s is not published", v, mid)
	}
	return s.fetch(mid, v, v+1), nil
}

func (s *Share) AccessLog(_ context.Context, mid string, limit int) ([]apiv1.Access, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("AccessLog"); err != nil {
		return nil, err
	}
	s.lastLimit = limit
	if !known(mid) {
		return nil, serrf(apiv1.CodeNotFound, "no MiMei %s", mid)
	}
	if mid != OwnMiMei {
		return nil, nil // nobody fetched it from us
	}
	l := []apiv1.Access{ // oldest first, as the node answers
		{Time: s.clock.Add(-time.Hour), Version: 1, Peer: PeerRelayed},
		{Time: s.clock, Version: 2, Persona: PersonaCarol, Name: "carol", Peer: PeerAlice},
	}
	return l[len(l)-min(limit, len(l)):], nil
}

func (s *Share) Cache(context.Context) ([]apiv1.CacheEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Cache"); err != nil {
		return nil, err
	}
	if s.have[PublicMiMei] == 0 {
		return nil, nil
	}
	return []apiv1.CacheEntry{{MiMei: PublicMiMei, Bytes: 4 << 20, LastUse: s.clock}}, nil
}

func (s *Share) Branches(_ context.Context, mid string) ([]apiv1.Branch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Branches"); err != nil {
		return nil, err
	}
	switch mid {
	case InMiMei:
		return []apiv1.Branch{{Version: 7, Record: "bafyrecord7", Author: PersonaDave, Memo: "edited offline"}}, nil
	case OwnMiMei, PublicMiMei:
		return nil, nil
	}
	return nil, serrf(apiv1.CodeNotFound, "no MiMei %s", mid)
}
