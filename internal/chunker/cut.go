package chunker

// cut returns the length of the chunk at the start of data, which holds the
// next min(Max, rest of stream) bytes. It is go-cdc-chunkers v1.1.0's
// FastCDC.Algorithm(opts, data, len(data)) for len(data) <= Max:
//
//   - if len(data) <= Min, the whole of data;
//   - otherwise the Gear hash fp starts at 0 at offset Min and takes in one
//     byte at a time, fp = fp<<1 + gear[b]; the chunk ends before the first
//     offset i (Min <= i < len(data)) at which fp&mask == 0, where mask is
//     maskS for i < Avg and maskL from Avg on (the byte at i belongs to the
//     next chunk);
//   - if there is none, the whole of data.
func cut(gear *[256]uint64, maskS, maskL uint64, minSize, avg int, data []byte) int {
	n := len(data)
	if n <= minSize {
		return n
	}
	normal := min(avg, n)
	i, fp := scan(gear, 0, maskS, data[minSize:normal])
	if i < normal-minSize {
		return minSize + i
	}
	i, _ = scan(gear, fp, maskL, data[normal:])
	return normal + i
}

// laneBlock is the stretch of input each of scan's four lanes covers per
// round.
const laneBlock = 2048

// scan runs the Gear hash over d from fp: fp = fp<<1 + gear[d[i]] for each i
// in turn, and returns the first i at which fp&mask == 0 with that fp, or
// len(d) and the final fp.
//
// One hash is a serial chain (a shift and an add per byte), so one lane
// leaves most of the core idle. But fp depends only on the last 64 bytes
// taken in (older ones are shifted out), so the hash at any offset 64 or
// more bytes into d can be rebuilt from 0 over the 64 bytes before it,
// whatever fp d started with.
// scan therefore splits d into rounds of four blocks and hashes the four
// blocks in lockstep, the first continuing from fp and the other three
// started 64 bytes early. The earliest hit is the answer: a hit in lane 0 is
// returned at once; a hit in a later lane stops the round, and the lanes
// before it finish their blocks alone in order, any hit of theirs coming
// first.
func scan(gear *[256]uint64, fp, mask uint64, d []byte) (int, uint64) {
	const B = laneBlock
	p := 0
	for len(d)-p >= 4*B {
		blk := (*[4 * B]byte)(d[p : p+4*B])
		f0 := fp
		var f1, f2, f3 uint64
		for j := B - 64; j < B; j++ {
			f1 = f1<<1 + gear[blk[j]]
			f2 = f2<<1 + gear[blk[B+j]]
			f3 = f3<<1 + gear[blk[2*B+j]]
		}
		lane, j := 0, 0
		for ; j < B; j++ {
			if f0 = f0<<1 + gear[blk[j]]; f0&mask == 0 {
				return p + j, f0
			}
			if f1 = f1<<1 + gear[blk[B+j]]; f1&mask == 0 {
				lane = 1
				break
			}
			if f2 = f2<<1 + gear[blk[2*B+j]]; f2&mask == 0 {
				lane = 2
				break
			}
			if f3 = f3<<1 + gear[blk[3*B+j]]; f3&mask == 0 {
				lane = 3
				break
			}
		}
		if lane == 0 {
			fp = f3
			p += 4 * B
			continue
		}
		// Lane `lane` hit at its byte j. The lanes before it have taken in
		// their byte j too: finish them, in order.
		if i, f := scan1(gear, f0, mask, blk[j+1:B]); i < B-j-1 {
			return p + j + 1 + i, f
		}
		if lane > 1 {
			if i, f := scan1(gear, f1, mask, blk[B+j+1:2*B]); i < B-j-1 {
				return p + B + j + 1 + i, f
			}
		}
		if lane > 2 {
			if i, f := scan1(gear, f2, mask, blk[2*B+j+1:3*B]); i < B-j-1 {
				return p + 2*B + j + 1 + i, f
			}
		}
		f := [4]uint64{f0, f1, f2, f3}
		return p + lane*B + j, f[lane]
	}
	i, fp := scan1(gear, fp, mask, d[p:])
	return p + i, fp
}

// scan1 is scan in one lane.
func scan1(gear *[256]uint64, fp, mask uint64, d []byte) (int, uint64) {
	for i, b := range d {
		if fp = fp<<1 + gear[b]; fp&mask == 0 {
			return i, fp
		}
	}
	return len(d), fp
}
