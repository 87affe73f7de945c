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

// cursorEvery is how often, at most, a webhook's cursor is saved: one
// PostgreSQL write per webhook per cursorEvery, not one per event. After a
// crash the events delivered since the last save come again.
const cursorEvery = 100 * time.Millisecond

func (w *hookWorker) run(ctx context.Context) {
	defer close(w.done)
	o := &order{cursor: w.hook.Cursor, gapWait: w.d.opts.GapWait}
	var timer *time.Timer
	var timeout <-chan time.Time
	saved, delivered := w.hook.Cursor, w.hook.Cursor
	// The save timer runs only while a delivery is unsaved: an idle
	// webhook costs no wake-ups.
	var saveTimer *time.Timer
	var saveDue <-chan time.Time
	defer func() {
		if saveTimer != nil {
			saveTimer.Stop()
		}
		w.abandon(o.held)
		if delivered > saved { // a clean stop keeps what was delivered
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			w.saveCursor(sctx, delivered)
			cancel()
		}
	}()
	for {
		var ready, drop []item
		select {
		case <-ctx.Done():
			return
		case it := <-w.inbox:
			ready, drop = o.offer(it, time.Now())
		case <-timeout:
			ready, drop = o.release(time.Now())
		case <-saveDue:
			saveTimer, saveDue = nil, nil
			if w.saveCursor(ctx, delivered) {
				saved = delivered
			}
		}
		for _, it := range drop {
			w.d.offsets.done(it.rec)
		}
		for i, it := range ready {
			if !w.deliver(ctx, it) {
				w.abandon(ready[i:])
				return
			}
			delivered = max(delivered, it.seq)
			w.d.offsets.done(it.rec)
		}
		if delivered > saved && saveTimer == nil {
			saveTimer = time.NewTimer(cursorEvery)
			saveDue = saveTimer.C
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
	return true
}

// saveCursor records that the webhook has every event up to seq. A
// failure costs repeats after a restart, not a loss: it is logged, and
// the next tick tries again.
func (w *hookWorker) saveCursor(ctx context.Context, seq int64) bool {
	if err := w.d.store.SetCursor(ctx, w.hook.ID, seq); err != nil {
		w.log.Warn("webhook cursor not saved", "seq", seq, "err", err)
		return false
	}
	return true
}
