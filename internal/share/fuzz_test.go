package share

import (
	"bytes"
	"testing"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/sealing"
)

// Fuzz targets for every decoder of the sharing protocol. Each parses
// arbitrary bytes and, when they are accepted, checks that they are exactly
// the encoding of the parsed value: one value, one encoding. Request and
// Reply are fuzzed from the frame up.

func FuzzRequest(f *testing.F) {
	for _, q := range []*Request{
		{Kind: KindCatalog, MiMei: testMiMei(1)},
		{Kind: KindKeyRecord, MiMei: testMiMei(2), Epoch: 70000},
		{Kind: KindNotify, MiMei: testMiMei(3), Payload: []byte("payload")},
	} {
		b, err := EncodeRequest(q)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame(b))
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, in []byte) {
		q, err := ReadRequest(bytes.NewReader(in))
		if err != nil {
			return
		}
		b, err := EncodeRequest(q)
		if err != nil {
			t.Fatalf("accepted a request it cannot encode: %v", err)
		}
		if !bytes.HasPrefix(in, frame(b)) {
			t.Fatal("re-encoding differs")
		}
	})
}

func FuzzReply(f *testing.F) {
	for _, p := range []*Reply{{Status: StatusOK}, {Status: StatusDenied, Message: "not a reader"}, {Status: StatusUnavailable, Message: "é"}} {
		b, err := EncodeReply(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame(b))
	}
	f.Add([]byte{0x03, 0x82, 0x00, 0x60})
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := ReadReply(bytes.NewReader(in))
		if err != nil {
			return
		}
		b, err := EncodeReply(p)
		if err != nil {
			t.Fatalf("accepted a reply it cannot encode: %v", err)
		}
		if !bytes.HasPrefix(in, frame(b)) {
			t.Fatal("re-encoding differs")
		}
		if (p.Err() == nil) != (p.Status == StatusOK) {
			t.Fatalf("status %s: Err() = %v", p.Status, p.Err())
		}
	})
}

func FuzzHead(f *testing.F) {
	h := testHead(testMiMei(1), 3)
	b, err := EncodeHead(&h)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	h.Epoch, h.Record, h.Number = 4, testCID(cid.Raw, "sealed"), 1<<63
	if b, err = EncodeHead(&h); err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ParseHead(in)
		if err != nil {
			return
		}
		b, err := EncodeHead(h)
		if err != nil {
			t.Fatalf("accepted a head it cannot encode: %v", err)
		}
		if !bytes.Equal(in, b) {
			t.Fatal("re-encoding differs")
		}
	})
}

func FuzzCatalog(f *testing.F) {
	b, err := EncodeCatalog(testCatalog())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	if b, err = EncodeCatalog(&Catalog{MiMei: testMiMei(2), Rights: WireRights{Owner: "o", Public: true}}); err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ParseCatalog(in)
		if err != nil {
			return
		}
		b, err := EncodeCatalog(c)
		if err != nil {
			t.Fatalf("accepted a catalog it cannot encode: %v", err)
		}
		if !bytes.Equal(in, b) {
			t.Fatal("re-encoding differs")
		}
	})
}

func FuzzOffer(f *testing.F) {
	for _, o := range []*Offer{{MiMei: testMiMei(1)}, {MiMei: testMiMei(2), Author: "alice", AppType: "notes", Ext: "md", Mark: "m", Write: true, Note: "for you"}} {
		b, err := EncodeOffer(o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		o, err := ParseOffer(in)
		if err != nil {
			return
		}
		b, err := EncodeOffer(o)
		if err != nil {
			t.Fatalf("accepted an offer it cannot encode: %v", err)
		}
		if !bytes.Equal(in, b) {
			t.Fatal("re-encoding differs")
		}
	})
}

func FuzzManifest(f *testing.F) {
	sealed := &Manifest{Blocks: []cid.CID{testCID(cid.Raw, "x"), testCID(cid.Raw, "y")}, Codecs: []byte("rc"), Checks: bytes.Repeat([]byte{7}, 2*sealing.CheckSize)}
	for _, m := range []*Manifest{testManifest(), {Blocks: []cid.CID{testCID(cid.Raw, "x")}, Codecs: []byte("c")}, sealed} {
		b, err := EncodeManifest(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ParseManifest(in)
		if err != nil {
			return
		}
		b, err := EncodeManifest(m)
		if err != nil {
			t.Fatalf("accepted a manifest it cannot encode: %v", err)
		}
		if !bytes.Equal(in, b) {
			t.Fatal("re-encoding differs")
		}
		if n := len(m.Links()); n < len(m.Blocks) || n > len(m.Blocks)+1 {
			t.Fatalf("%d links for %d blocks", n, len(m.Blocks))
		}
	})
}

func FuzzOwnList(f *testing.F) {
	for _, l := range []*OwnList{
		{},
		{Entries: []OwnEntry{{MiMei: testMiMei(1), Versions: 3}, {MiMei: testMiMei(2)}}, More: true},
	} {
		b, err := EncodeOwnList(l)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x83, 0x02, 0x80, 0xf4})
	f.Fuzz(func(t *testing.T, in []byte) {
		l, err := ParseOwnList(in)
		if err != nil {
			return
		}
		b, err := EncodeOwnList(l)
		if err != nil {
			t.Fatalf("accepted a list it cannot encode: %v", err)
		}
		if !bytes.Equal(b, in) {
			t.Fatal("re-encoding differs")
		}
	})
}
