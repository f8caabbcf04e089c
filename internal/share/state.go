package share

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/mimei"
)

func offerKey(id mimei.ID) []byte                { return key([]byte("sh/in/"), id[:]) }
func subKey(id mimei.ID) []byte                  { return key([]byte("sh/s/"), id[:]) }
func subscriberKey(id mimei.ID, p string) []byte { return key([]byte("sh/sub/"), id[:], []byte(p)) }
func subscriberPrefix(id mimei.ID) []byte        { return key([]byte("sh/sub/"), id[:]) }
func cacheKey(id mimei.ID) []byte                { return key([]byte("sh/c/"), id[:]) }
func revokedKey(id mimei.ID) []byte              { return key([]byte("sh/rv/"), id[:]) }

// Incoming is a MiMei someone shared with us ("shared with me").
type Incoming struct {
	Offer
	From     string // the owner's persona
	Received time.Time
	Revoked  time.Time // when the owner took our access away (zero: it did not)
}

type incomingWire struct {
	_        struct{} `cbor:",toarray"`
	Offer    []byte
	From     string
	Received int64
}

// AddOffer records an offer received from persona from, who must be the
// owner the offer names (others cannot share what is not theirs).
func (s *Service) AddOffer(o *Offer, from string) (Incoming, error) {
	spec := mimei.Spec{Author: o.Author, AppType: o.AppType, Ext: o.Ext, Mark: o.Mark}
	id, err := mimei.DeriveID(spec)
	if err != nil || id != o.MiMei {
		return Incoming{}, fmt.Errorf("%w: offer names %s but its spec does not derive it", ErrMalformed, o.MiMei)
	}
	if identity := o.Author; identity != from {
		return Incoming{}, fmt.Errorf("%w: offer of %s comes from %s, not its author", ErrNotOwner, o.MiMei, from)
	}
	in := Incoming{Offer: *o, From: from, Received: s.now()}
	raw, err := EncodeOffer(o)
	if err != nil {
		return in, err
	}
	enc, err := codec.Marshal(incomingWire{Offer: raw, From: from, Received: in.Received.UnixMilli()})
	if err != nil {
		return in, err
	}
	s.offerMu.Lock()
	defer s.offerMu.Unlock()
	b := s.kv.NewBatch()
	if err := s.boundOffers(b, o.MiMei, from); err != nil {
		return in, err
	}
	_ = b.Set(offerKey(o.MiMei), enc)
	_ = b.Delete(revokedKey(o.MiMei)) // shared with us again
	if err := b.Commit(); err != nil {
		return in, err
	}
	s.event("share.offered", map[string]any{"mimei": mimei.ID(o.MiMei).String(), "from": from, "write": o.Write})
	return in, nil
}

// Offer budgets: contacts can offer any number of MiMei they make up, so
// the offers kept are bounded, per persona and in total. Over a bound the
// oldest offer that was only offered (not subscribed to, not held here)
// goes first, of the same persona, or in total of the persona with the
// most offers. Offers acted on are never evicted (they are as many as the
// user made them).
const (
	MaxOffersPerPersona = 256
	MaxOffers           = 4096
)

// The bounds in force (tests lower them).
var maxOffersPerPersona, maxOffers = MaxOffersPerPersona, MaxOffers

// offerEntry is what boundOffers needs of one stored offer.
type offerEntry struct {
	id       mimei.ID
	from     string
	received int64
}

// boundOffers adds to b the deletions that make room for a new offer of id
// from persona from. Callers hold offerMu.
func (s *Service) boundOffers(b kv.Batch, id mimei.ID, from string) error {
	pre := []byte("sh/in/")
	it := s.kv.Iter(kv.IterOptions{Prefix: pre})
	var all []offerEntry
	for it.Next() {
		if len(it.Key()) != len(pre)+mimei.IDLen {
			continue
		}
		var w incomingWire
		if err := codec.Unmarshal(it.Value(), &w); err != nil {
			continue // a corrupt entry is not counted (SharedWithMe reports it)
		}
		var e offerEntry
		copy(e.id[:], it.Key()[len(pre):])
		if e.id == id {
			continue // replaced by the new offer
		}
		e.from, e.received = w.From, w.Received
		all = append(all, e)
	}
	if err := it.Close(); err != nil {
		return err
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].received < all[j].received })
	per := map[string]int{}
	for _, e := range all {
		per[e.from]++
	}
	// evict drops the oldest evictable offer of persona p; false if none.
	evict := func(p string) bool {
		for i, e := range all {
			if e.from != p {
				continue
			}
			if _, sub, _ := s.Subscription(e.id); sub {
				continue
			}
			if _, err := s.store.Registry().Get(e.id); err == nil {
				continue
			}
			_ = b.Delete(offerKey(e.id))
			all = slices.Delete(all, i, i+1)
			per[p]--
			return true
		}
		return false
	}
	for per[from] >= maxOffersPerPersona && evict(from) {
	}
	for len(all) >= maxOffers {
		// The persona with the most offers gives one up; if none of its
		// can go, the next, down to the new offer's own.
		order := make([]string, 0, len(per))
		for p := range per {
			order = append(order, p)
		}
		sort.Slice(order, func(i, j int) bool {
			if per[order[i]] != per[order[j]] {
				return per[order[i]] > per[order[j]]
			}
			return order[i] < order[j]
		})
		if !slices.ContainsFunc(order, evict) {
			break // every offer kept was acted on
		}
	}
	return nil
}

// SharedWithMe lists the offers received, newest first.
func (s *Service) SharedWithMe() ([]Incoming, error) {
	it := s.kv.Iter(kv.IterOptions{Prefix: []byte("sh/in/")})
	var out []Incoming
	for it.Next() {
		var w incomingWire
		if err := codec.Unmarshal(it.Value(), &w); err != nil {
			it.Close()
			return nil, fmt.Errorf("share: corrupt offer: %w", err)
		}
		o, err := ParseOffer(w.Offer)
		if err != nil {
			it.Close()
			return nil, err
		}
		out = append(out, Incoming{Offer: *o, From: w.From, Received: time.UnixMilli(w.Received).UTC()})
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	for i := range out {
		if b, err := s.kv.Get(revokedKey(out[i].MiMei)); err == nil && len(b) == 8 {
			out[i].Revoked = time.UnixMilli(int64(binary.BigEndian.Uint64(b))).UTC()
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Received.After(out[j].Received) })
	return out, nil
}

// ErrRevoked: the owner took our access to the MiMei away.
var ErrRevoked = errors.New("the owner stopped sharing this MiMei with you")

// Revoke records that from, the owner of id who offered it to us, took our
// access away: the subscription ends (nothing new can be fetched) and the
// offer shows the revocation. What was fetched stays. A persona that is
// not id's owner is refused.
func (s *Service) Revoke(id mimei.ID, from string) error {
	owner := ""
	if in, ok, err := s.Incoming(id); err != nil {
		return err
	} else if ok {
		owner = in.From
	}
	sub, subscribed, err := s.Subscription(id)
	if err != nil {
		return err
	}
	if owner == "" && subscribed {
		owner = sub.Owner
	}
	if owner == "" {
		return nil // nothing of it here
	}
	if from == "" || from != owner {
		return fmt.Errorf("%w: only the owner revokes", ErrNotOwner)
	}
	b := s.kv.NewBatch()
	_ = b.Set(revokedKey(id), binary.BigEndian.AppendUint64(nil, uint64(s.now().UnixMilli())))
	if subscribed {
		_ = b.Delete(subKey(id))
	}
	if err := b.Commit(); err != nil {
		return err
	}
	s.event("share.revoked", map[string]any{"mimei": id.String(), "from": from})
	return nil
}

// Incoming returns the offer received for id.
func (s *Service) Incoming(id mimei.ID) (Incoming, bool, error) {
	all, err := s.SharedWithMe()
	if err != nil {
		return Incoming{}, false, err
	}
	for _, in := range all {
		if in.MiMei == id {
			return in, true, nil
		}
	}
	return Incoming{}, false, nil
}

// Subscription is our wish to keep a MiMei of another persona (or our own
// on another device) up to date.
type Subscription struct {
	MiMei   mimei.ID
	Owner   string
	Since   time.Time
	Checked time.Time // last time the owner was asked (push or safety net)
	Have    uint64    // versions received so far (the newest number + 1; 0 = none)
	Error   string    // why the last attempt failed ("" = it did not)
}

type subWire struct {
	_       struct{} `cbor:",toarray"`
	Owner   string
	Since   int64
	Checked int64
	Have    uint64
	Error   string
}

// Subscribe records a subscription to id, owned by owner.
func (s *Service) Subscribe(id mimei.ID, owner string) (Subscription, error) {
	if sub, ok, err := s.Subscription(id); err != nil || ok {
		return sub, err
	}
	sub := Subscription{MiMei: id, Owner: owner, Since: s.now()}
	return sub, s.putSub(sub)
}

func (s *Service) putSub(sub Subscription) error {
	enc, err := codec.Marshal(subWire{Owner: sub.Owner, Since: sub.Since.UnixMilli(), Checked: sub.Checked.UnixMilli(), Have: sub.Have, Error: truncate(sub.Error, 512)})
	if err != nil {
		return err
	}
	return s.kv.Set(subKey(sub.MiMei), enc)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Unsubscribe drops the subscription (what was received stays).
func (s *Service) Unsubscribe(id mimei.ID) error { return s.kv.Delete(subKey(id)) }

// Subscription returns the subscription to id, if any.
func (s *Service) Subscription(id mimei.ID) (Subscription, bool, error) {
	b, err := s.kv.Get(subKey(id))
	if errors.Is(err, kv.ErrNotFound) {
		return Subscription{}, false, nil
	} else if err != nil {
		return Subscription{}, false, err
	}
	sub, err := decodeSub(id, b)
	return sub, err == nil, err
}

func decodeSub(id mimei.ID, b []byte) (Subscription, error) {
	var w subWire
	if err := codec.Unmarshal(b, &w); err != nil {
		return Subscription{}, fmt.Errorf("share: corrupt subscription of %s: %w", id, err)
	}
	return Subscription{MiMei: id, Owner: w.Owner, Since: time.UnixMilli(w.Since).UTC(), Checked: time.UnixMilli(w.Checked).UTC(), Have: w.Have, Error: w.Error}, nil
}

// Subscriptions lists our subscriptions.
func (s *Service) Subscriptions() ([]Subscription, error) {
	pre := []byte("sh/s/")
	it := s.kv.Iter(kv.IterOptions{Prefix: pre})
	var out []Subscription
	for it.Next() {
		var id mimei.ID
		if len(it.Key()) != len(pre)+mimei.IDLen {
			continue
		}
		copy(id[:], it.Key()[len(pre):])
		sub, err := decodeSub(id, it.Value())
		if err != nil {
			it.Close()
			return nil, err
		}
		out = append(out, sub)
	}
	return out, it.Close()
}

// Checked notes the outcome of bringing a subscription up to date.
func (s *Service) Checked(id mimei.ID, have uint64, cause error) error {
	sub, ok, err := s.Subscription(id)
	if err != nil || !ok {
		return err
	}
	sub.Checked = s.now()
	sub.Have = max(sub.Have, have)
	sub.Error = ""
	if cause != nil {
		sub.Error = cause.Error()
	}
	return s.putSub(sub)
}

// Subscriber budgets: what others can make an owner keep of who to
// notify. A subscription lasts SubscriberTTL from the last time the device
// subscribed (readers subscribe again on their safety net's round, see
// Flows.Fetch); a MiMei keeps at most MaxSubscribers devices, at most
// MaxSubscriberDevices of one persona and at most MaxStrangerSubscribers
// of strangers (persona "") together. Over a bound the oldest of the same
// kind goes first; a stranger never evicts a contact.
const (
	SubscriberTTL          = 30 * 24 * time.Hour
	MaxSubscribers         = 256
	MaxSubscriberDevices   = 16
	MaxStrangerSubscribers = 64
)

// ErrTooManySubscribers: a MiMei's subscribers are at their bound and the
// new one may not evict any of them.
var ErrTooManySubscribers = errors.New("too many subscribers to this MiMei")

// subscriberEntry is one sh/sub/ entry: the device, its persona and when it
// last subscribed. The value is persona NUL ms (u64); entries written
// before subscriptions expired hold the persona alone (since is zero).
type subscriberEntry struct {
	device  string
	persona string
	since   time.Time
}

func encodeSubscriber(persona string, since time.Time) []byte {
	b := append([]byte(persona), 0)
	return binary.BigEndian.AppendUint64(b, uint64(since.UnixMilli()))
}

func decodeSubscriber(device string, v []byte) subscriberEntry {
	if n := len(v); n >= 9 && v[n-9] == 0 {
		return subscriberEntry{device: device, persona: string(v[:n-9]), since: time.UnixMilli(int64(binary.BigEndian.Uint64(v[n-8:]))).UTC()}
	}
	return subscriberEntry{device: device, persona: string(v)}
}

// subscriberEntries reads the subscribers of id, oldest first. Expired
// entries are deleted; entries of the old encoding are rewritten with the
// current time (they get a full TTL from the upgrade). Callers hold subMu.
func (s *Service) subscriberEntries(id mimei.ID) ([]subscriberEntry, error) {
	now := s.now()
	pre := subscriberPrefix(id)
	it := s.kv.Iter(kv.IterOptions{Prefix: pre})
	var out []subscriberEntry
	b := s.kv.NewBatch()
	dirty := false
	for it.Next() {
		e := decodeSubscriber(string(it.Key()[len(pre):]), it.Value())
		switch {
		case e.since.IsZero():
			e.since = now
			_ = b.Set(bytes.Clone(it.Key()), encodeSubscriber(e.persona, now))
			dirty = true
		case now.Sub(e.since) >= SubscriberTTL:
			_ = b.Delete(bytes.Clone(it.Key()))
			dirty = true
			continue
		}
		out = append(out, e)
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	if dirty {
		if err := b.Commit(); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].since.Before(out[j].since) })
	return out, nil
}

// AddSubscriber records that a device of persona wants notifications of
// new versions of id; the persona must be allowed to read it. A device
// already subscribed is refreshed (its TTL starts again). Within the
// bounds above the oldest subscriber of the same kind is evicted.
func (s *Service) AddSubscriber(id mimei.ID, persona, device string) error {
	m, role, err := s.access(id, persona)
	if err != nil {
		return err
	}
	if role == RolePublic && !m.Rights.Public {
		return fmt.Errorf("%w: %s", ErrNotShared, id)
	}
	s.subMu.Lock()
	defer s.subMu.Unlock()
	all, err := s.subscriberEntries(id)
	if err != nil {
		return err
	}
	all = slices.DeleteFunc(all, func(e subscriberEntry) bool { return e.device == device })
	b := s.kv.NewBatch()
	// evictOldest drops the oldest entry match accepts; false if none does.
	evictOldest := func(match func(subscriberEntry) bool) bool {
		i := slices.IndexFunc(all, match)
		if i < 0 {
			return false
		}
		_ = b.Delete(subscriberKey(id, all[i].device))
		all = slices.Delete(all, i, i+1)
		return true
	}
	same := func(e subscriberEntry) bool { return e.persona == persona }
	stranger := func(e subscriberEntry) bool { return e.persona == "" }
	limit := MaxSubscriberDevices
	if persona == "" {
		limit = MaxStrangerSubscribers
	}
	for count(all, same) >= limit && evictOldest(same) {
	}
	for len(all) >= MaxSubscribers {
		if evictOldest(stranger) {
			continue
		}
		if persona == "" {
			return fmt.Errorf("%w: %s", ErrTooManySubscribers, id)
		}
		evictOldest(func(subscriberEntry) bool { return true })
	}
	_ = b.Set(subscriberKey(id, device), encodeSubscriber(persona, s.now()))
	return b.Commit()
}

func count[T any](s []T, f func(T) bool) int {
	n := 0
	for _, v := range s {
		if f(v) {
			n++
		}
	}
	return n
}

// RemoveSubscriber drops a device's subscription.
func (s *Service) RemoveSubscriber(id mimei.ID, device string) error {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	return s.kv.Delete(subscriberKey(id, device))
}

// Subscriber is a device to notify of new versions.
type Subscriber struct {
	Device  string
	Persona string
	Since   time.Time // when the device last subscribed; it expires SubscriberTTL later
}

// Subscribers lists the devices to notify of new versions of id whose
// persona may still read it and whose subscription has not expired,
// oldest first.
func (s *Service) Subscribers(id mimei.ID) ([]Subscriber, error) {
	m, err := s.store.Registry().Get(id)
	if err != nil {
		return nil, err
	}
	s.subMu.Lock()
	all, err := s.subscriberEntries(id)
	s.subMu.Unlock()
	if err != nil {
		return nil, err
	}
	var out []Subscriber
	for _, e := range all {
		if RoleOf(m.Rights, e.persona) != RoleNone {
			out = append(out, Subscriber{Device: e.device, Persona: e.persona, Since: e.since})
		}
	}
	return out, nil
}

// ---- sharing (owner side) ----

// Share adds persona as a reader (or writer) of id and makes sure every
// version can be fetched by them: key records rewrapped to include them,
// versions published. It returns the Offer to send them.
func (s *Service) Share(ctx context.Context, id mimei.ID, persona string, write bool, encKey EncKeyFunc) (*Offer, error) {
	m, err := s.store.Registry().Get(id)
	if err != nil {
		return nil, err
	}
	if m.Rights.Owner != s.cfg.Persona {
		return nil, fmt.Errorf("%w: %s", ErrNotOwner, id)
	}
	if persona == m.Rights.Owner {
		return nil, fmt.Errorf("share: %s already owns %s", persona, id)
	}
	r := m.Rights
	r.Readers = slices.DeleteFunc(slices.Clone(r.Readers), func(p string) bool { return p == persona })
	r.Writers = slices.DeleteFunc(slices.Clone(r.Writers), func(p string) bool { return p == persona })
	if write {
		r.Writers = append(r.Writers, persona)
	} else {
		r.Readers = append(r.Readers, persona)
	}
	if m, err = s.store.Registry().SetRights(id, r); err != nil {
		return nil, err
	}
	if !m.Rights.Public {
		if _, err := s.rekey(ctx, m, false, encKey); err != nil {
			return nil, err
		}
	}
	if _, err := s.PublishAll(ctx, id, encKey); err != nil {
		return nil, err
	}
	s.event("share.shared", map[string]any{"mimei": id.String(), "with": persona, "write": write})
	return &Offer{MiMei: id, Author: m.Spec.Author, AppType: m.Spec.AppType, Ext: m.Spec.Ext, Mark: m.Spec.Mark, Write: write}, nil
}

// Unshare removes persona from the readers and writers of id and, for a
// non-public MiMei, rotates the content key: versions made from now on are
// sealed with a key they cannot unwrap. What they already fetched stays
// theirs. Versions published before keep their old epoch.
func (s *Service) Unshare(ctx context.Context, id mimei.ID, persona string, encKey EncKeyFunc) error {
	m, err := s.store.Registry().Get(id)
	if err != nil {
		return err
	}
	if m.Rights.Owner != s.cfg.Persona {
		return fmt.Errorf("%w: %s", ErrNotOwner, id)
	}
	r := m.Rights
	before := len(r.Readers) + len(r.Writers)
	r.Readers = slices.DeleteFunc(slices.Clone(r.Readers), func(p string) bool { return p == persona })
	r.Writers = slices.DeleteFunc(slices.Clone(r.Writers), func(p string) bool { return p == persona })
	if len(r.Readers)+len(r.Writers) == before {
		return fmt.Errorf("%w: %s is not shared with %s", ErrNotShared, id, persona)
	}
	if m, err = s.store.Registry().SetRights(id, r); err != nil {
		return err
	}
	if !m.Rights.Public {
		if _, err := s.rekey(ctx, m, true, encKey); err != nil {
			return err
		}
	}
	// Drop the persona's subscriptions.
	if err := s.dropSubscribers(id, persona); err != nil {
		return err
	}
	s.event("share.unshared", map[string]any{"mimei": id.String(), "with": persona})
	return nil
}

// dropSubscribers removes every device of persona from id's subscribers.
func (s *Service) dropSubscribers(id mimei.ID, persona string) error {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	pre := subscriberPrefix(id)
	it := s.kv.Iter(kv.IterOptions{Prefix: pre})
	b := s.kv.NewBatch()
	for it.Next() {
		if decodeSubscriber("", it.Value()).persona == persona {
			_ = b.Delete(bytes.Clone(it.Key()))
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	return b.Commit()
}
