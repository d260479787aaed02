package storage

// ring is a resource's event window: a FIFO of events in revision order whose buffer grows
// as needed up to a maximum and shrinks again when trimmed.
type ring struct {
	buf  []*event
	head int
	n    int
}

func (q *ring) len() int { return q.n }

func (q *ring) at(i int) *event { return q.buf[(q.head+i)%len(q.buf)] }

// push appends ev; when the ring already holds max events it drops and returns the oldest.
func (q *ring) push(ev *event, max int) *event {
	if q.n >= max && q.n > 0 {
		old := q.popFront()
		q.push(ev, max)
		return old
	}
	if q.n == len(q.buf) {
		q.resize(min(max, max2(16, 2*len(q.buf))))
	}
	q.buf[(q.head+q.n)%len(q.buf)] = ev
	q.n++
	return nil
}

// popFront removes and returns the oldest event.
func (q *ring) popFront() *event {
	ev := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	if len(q.buf) > 64 && q.n < len(q.buf)/4 {
		q.resize(len(q.buf) / 2)
	}
	return ev
}

func (q *ring) resize(size int) {
	nb := make([]*event, size)
	for i := 0; i < q.n; i++ {
		nb[i] = q.at(i)
	}
	q.buf, q.head = nb, 0
}

// after returns the events with rv > rev, oldest first.
func (q *ring) after(rev int64) []*event {
	lo, hi := 0, q.n
	for lo < hi {
		mid := (lo + hi) / 2
		if q.at(mid).rv > rev {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	out := make([]*event, 0, q.n-lo)
	for i := lo; i < q.n; i++ {
		out = append(out, q.at(i))
	}
	return out
}

func max2(a, b int) int {
	if a > b {
		return a
	}
	return b
}
