package repair

// queue holds tasks by risk: a bucket per margin (shards a body can
// still lose), worked smallest margin first, FIFO within a bucket. It is
// bounded: when full, a task more at risk than the least at-risk queued
// one pushes that one out (the next scan finds it again).
type queue struct {
	max     int
	buckets map[int][]*task
	queued  map[string]bool // data IDs queued or in progress
	n       int
}

func newQueue(max int) *queue {
	return &queue{max: max, buckets: map[int][]*task{}, queued: map[string]bool{}}
}

// push queues t unless its body is queued or being worked on already; it
// reports whether t was queued.
func (q *queue) push(t *task) bool {
	id := t.body.DataID
	if q.queued[id] {
		return false
	}
	if q.n >= q.max {
		worst, ok := q.extreme(false)
		if !ok || worst <= t.margin() {
			return false
		}
		b := q.buckets[worst]
		dropped := b[len(b)-1]
		q.buckets[worst] = b[:len(b)-1]
		delete(q.queued, dropped.body.DataID)
		q.n--
	}
	q.buckets[t.margin()] = append(q.buckets[t.margin()], t)
	q.queued[id] = true
	q.n++
	return true
}

// pop returns the most at-risk task; its body stays marked as in progress
// until done.
func (q *queue) pop() (*task, bool) {
	best, ok := q.extreme(true)
	if !ok {
		return nil, false
	}
	b := q.buckets[best]
	t := b[0]
	b[0] = nil
	q.buckets[best] = b[1:]
	q.n--
	return t, true
}

// done forgets the body of a task taken by pop.
func (q *queue) done(t *task) { delete(q.queued, t.body.DataID) }

func (q *queue) len() int { return q.n }

// extreme returns the smallest (or largest) margin with queued tasks.
func (q *queue) extreme(smallest bool) (int, bool) {
	found, best := false, 0
	for m, b := range q.buckets {
		if len(b) == 0 {
			continue
		}
		if !found || (smallest && m < best) || (!smallest && m > best) {
			best, found = m, true
		}
	}
	return best, found
}
