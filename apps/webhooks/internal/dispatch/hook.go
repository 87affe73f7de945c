package dispatch

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Hook is one webhook as the dispatcher sees it.
type Hook struct {
	ID, Room, URL, Secret string
	// Cursor is the newest seq delivered (0: none yet).
	Cursor int64
	// Created bounds what the webhook gets: events from before it was
	// made are not its business, even when the dispatcher reads them late.
	Created time.Time
}

// hookWorker delivers one webhook's events, in seq order, one at a time.
// Its inbox is bounded: when a receiver is slow or down, the inbox fills,
// the dispatcher stops reading, and the backlog waits in Kafka (seen as
// the consumer group's lag).
type hookWorker struct {
	hook   Hook
	inbox  chan item
	d      *Dispatcher
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	// deleted: the webhook is gone, so what it still holds needs no
	// delivery and its records may be committed.
	deleted atomic.Bool
	// mu and closed keep give from putting an item into the inbox of a
	// worker that stopped, where nobody would finish it.
	mu     sync.Mutex
	closed bool
}

func (d *Dispatcher) startHook(parent context.Context, h Hook) *hookWorker {
	ctx, cancel := context.WithCancel(parent)
	w := &hookWorker{hook: h, inbox: make(chan item, d.opts.Queue), d: d, cancel: cancel, done: make(chan struct{}),
		log: d.log.With("webhook", h.ID, "room", h.Room)}
	go w.run(ctx)
	return w
}

// stop ends the worker and waits for it. When the webhook was deleted,
// what it held is finished without delivery; otherwise (the dispatcher
// stops) it stays unfinished, its offsets uncommitted, and is read again
// next time.
func (w *hookWorker) stop(deleted bool) {
	w.deleted.Store(deleted)
	w.cancel()
	<-w.done
	w.mu.Lock() // give returns once done is closed
	defer w.mu.Unlock()
	w.closed = true
	for {
		select {
		case it := <-w.inbox:
			w.abandon([]item{it})
		default:
			return
		}
	}
}

// give queues it for the worker, waiting while the inbox is full. When
// the worker has stopped, it abandons it instead.
func (w *hookWorker) give(ctx context.Context, it item) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		w.abandon([]item{it})
		return
	}
	select {
	case w.inbox <- it:
	case <-w.done: // stop drains the inbox and abandons what it finds
		w.abandon([]item{it})
	case <-ctx.Done(): // shutting down: the record stays unfinished
	}
}

// abandon gives up on items; see stop.
func (w *hookWorker) abandon(items []item) {
	if !w.deleted.Load() {
		return
	}
	for _, it := range items {
		w.d.offsets.done(it.rec)
	}
}

func (w *hookWorker) run(ctx context.Context) {
	defer close(w.done)
	o := &order{cursor: w.hook.Cursor, gapWait: w.d.opts.GapWait}
	var timer *time.Timer
	var timeout <-chan time.Time
	defer func() { w.abandon(o.held) }()
	for {
		var ready, drop []item
		select {
		case <-ctx.Done():
			return
		case it := <-w.inbox:
			ready, drop = o.offer(it, time.Now())
		case <-timeout:
			ready, drop = o.release(time.Now())
		}
		for _, it := range drop {
			w.d.offsets.done(it.rec)
		}
		for i, it := range ready {
			if !w.deliver(ctx, it) {
				w.abandon(ready[i:])
				return
			}
			w.d.offsets.done(it.rec)
		}
		if timer != nil {
			timer.Stop()
			timer, timeout = nil, nil
		}
		if d := o.wait(time.Now()); d > 0 {
			timer = time.NewTimer(d)
			timeout = timer.C
		}
	}
}

// deliver posts it until the receiver takes it, backing off between
// tries, and then records the cursor; false when ctx ended first.
func (w *hookWorker) deliver(ctx context.Context, it item) bool {
	wait := w.d.opts.RetryMin
	for attempt := 1; ; attempt++ {
		err := w.d.post(ctx, w.hook, it)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return false
		}
		w.log.Warn("webhook delivery failed; retrying", "seq", it.seq, "attempt", attempt, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(jitter(wait)):
		}
		wait = min(2*wait, w.d.opts.RetryMax)
	}
	// The cursor is saved after every delivery, so a restart repeats at
	// most the event delivered last. A failure to save costs a
	// duplicate after a restart, not a loss: it is logged and passed.
	for attempt := 0; attempt < 3; attempt++ {
		err := w.d.store.SetCursor(ctx, w.hook.ID, it.seq)
		if err == nil {
			break
		}
		w.log.Warn("webhook cursor not saved", "seq", it.seq, "err", err)
		if ctx.Err() != nil {
			break
		}
	}
	return true
}
