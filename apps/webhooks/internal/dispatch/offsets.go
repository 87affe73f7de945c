package dispatch

import (
	"sync"

	"github.com/segmentio/kafka-go"
)

// offsets tracks, per partition, the records read but not yet finished
// (delivered to every webhook of their room, or found to need no
// delivery), so that a partition's offset is committed only up to its
// oldest unfinished record: after a crash, everything not delivered is
// read again.
type offsets struct {
	mu    sync.Mutex
	parts map[int]*partition
	// pending counts unfinished records, bounded by the dispatcher.
	pending int
}

type partition struct {
	queue []*record // in offset order
	// commit is the newest record whose predecessors are all finished,
	// not yet committed (nil: nothing new).
	commit *kafka.Message
}

// record is one read record; refs counts the webhooks it still waits on.
type record struct {
	msg  kafka.Message
	refs int
}

func newOffsets() *offsets { return &offsets{parts: map[int]*partition{}} }

// add tracks a record waiting on refs webhooks (0: finished at once).
func (o *offsets) add(m kafka.Message, refs int) *record {
	r := &record{msg: m, refs: refs}
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.parts[m.Partition]
	if p == nil {
		p = &partition{}
		o.parts[m.Partition] = p
	}
	p.queue = append(p.queue, r)
	o.pending++
	o.advance(p)
	return r
}

// done finishes one webhook's part of r.
func (o *offsets) done(r *record) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r.refs--
	if r.refs <= 0 {
		o.advance(o.parts[r.msg.Partition])
	}
}

// advance pops the finished records at the head of p's queue.
func (o *offsets) advance(p *partition) {
	n := 0
	for n < len(p.queue) && p.queue[n].refs <= 0 {
		n++
	}
	if n == 0 {
		return
	}
	m := p.queue[n-1].msg
	p.commit = &m
	clear(p.queue[:n])
	p.queue = p.queue[n:]
	o.pending -= n
}

// take returns the messages to commit (one per partition that moved) and
// forgets them.
func (o *offsets) take() []kafka.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []kafka.Message
	for _, p := range o.parts {
		if p.commit != nil {
			out = append(out, *p.commit)
			p.commit = nil
		}
	}
	return out
}

// unfinished is how many records wait on a delivery.
func (o *offsets) unfinished() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pending
}
