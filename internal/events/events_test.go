package events

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func recv(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return Event{}
}

func TestPublishSubscribe(t *testing.T) {
	b := New(4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := b.Subscribe(ctx, 0, nil)
	b.Publish("a", map[string]int{"n": 1})
	ev := recv(t, ch)
	if ev.ID != 1 || ev.Type != "a" || string(ev.Data) != `{"n":1}` {
		t.Fatalf("got %+v", ev)
	}
}

func TestResumeAndFilter(t *testing.T) {
	tests := []struct {
		name  string
		keep  int
		since uint64
		match func(string) bool
		want  []uint64
	}{
		{"resume after 2", 10, 2, nil, []uint64{3, 4, 5}},
		{"history shorter than gap", 2, 1, nil, []uint64{4, 5}},
		{"filter", 10, 1, func(s string) bool { return s == "even" }, []uint64{2, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := New(tc.keep)
			for i := 1; i <= 5; i++ {
				typ := "odd"
				if i%2 == 0 {
					typ = "even"
				}
				b.Publish(typ, i)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch := b.Subscribe(ctx, tc.since, tc.match)
			for _, id := range tc.want {
				if ev := recv(t, ch); ev.ID != id {
					t.Fatalf("got id %d, want %d", ev.ID, id)
				}
			}
			select {
			case ev := <-ch:
				t.Fatalf("unexpected extra event %+v", ev)
			default:
			}
		})
	}
}

func TestSlowSubscriberDropped(t *testing.T) {
	b := New(1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := b.Subscribe(ctx, 0, nil)
	for i := 0; i < subBuffer+10; i++ {
		b.Publish("x", i)
	}
	n := 0
	for range ch {
		n++
	}
	if n == 0 || n > subBuffer+1 {
		t.Fatalf("slow subscriber got %d events before drop", n)
	}
}

func TestCancelAndClose(t *testing.T) {
	b := New(0)
	ctx, cancel := context.WithCancel(context.Background())
	ch := b.Subscribe(ctx, 0, nil)
	cancel()
	if _, ok := <-ch; ok {
		t.Fatal("want closed channel after cancel")
	}
	ch2 := b.Subscribe(context.Background(), 0, nil)
	b.Close()
	if _, ok := <-ch2; ok {
		t.Fatal("want closed channel after Close")
	}
	if ev := b.Publish("late", nil); ev.ID != 0 {
		t.Fatal("publish after close must be ignored")
	}
	if _, ok := <-b.Subscribe(context.Background(), 0, nil); ok {
		t.Fatal("subscribe after close must give a closed channel")
	}
}

func TestConcurrent(t *testing.T) {
	b := New(8)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := 0; i < 4; i++ {
		ch := b.Subscribe(ctx, 0, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range ch {
				if ev.ID == 100 {
					return
				}
			}
		}()
	}
	for i := 0; i < 100; i++ {
		b.Publish(fmt.Sprint("t", i%3), i)
	}
	wg.Wait()
	if b.LastID() != 100 {
		t.Fatalf("LastID %d", b.LastID())
	}
}
