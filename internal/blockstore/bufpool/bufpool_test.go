package bufpool

import "testing"

func TestClasses(t *testing.T) {
	for _, n := range []int{0, 1, 64 << 10, 64<<10 + 1, 300 << 10, 1 << 20, 4<<20 + 41, MaxSize} {
		b := Get(n)
		if len(*b) != n {
			t.Fatalf("Get(%d): length %d", n, len(*b))
		}
		c := cap(*b)
		if c < n || c&(c-1) != 0 || c > 2*max(n, 32<<10) {
			t.Fatalf("Get(%d): capacity %d", n, c)
		}
		Put(b)
	}
	big := Get(MaxSize + 1)
	if len(*big) != MaxSize+1 {
		t.Fatalf("Get(MaxSize+1): length %d", len(*big))
	}
	Put(big) // not kept; must not panic
	Put(nil)
	odd := make([]byte, 100<<10)
	Put(&odd) // not a class size: ignored
}

func TestReuse(t *testing.T) {
	b := Get(300 << 10)
	(*b)[0] = 7
	Put(b)
	got := Get(400 << 10)
	if cap(*got) != 512<<10 {
		t.Fatalf("capacity %d, want the 512 KiB class", cap(*got))
	}
}
