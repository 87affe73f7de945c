// Package dispatch delivers every event of a room's log to the room's
// outgoing webhooks: read from Kafka in a consumer group of its own, so a
// slow receiver never slows chat, put in seq order per webhook, POSTed
// signed, retried with backoff until taken, and committed to Kafka only
// once every webhook of its room has it (at least once, across crashes).
package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// Store is the webhooks' table.
type Store interface {
	// Webhooks lists every webhook with its cursor.
	Webhooks(ctx context.Context) ([]Hook, error)
	// SetCursor records that the webhook has every event up to seq.
	SetCursor(ctx context.Context, id string, seq int64) error
}

// Source is the consumer group's reader (kafka.Reader).
type Source interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
	CommitMessages(ctx context.Context, msgs ...kafka.Message) error
}

var _ Source = (*kafka.Reader)(nil)

// Options tunes a Dispatcher (README: the WEBHOOK_* variables).
type Options struct {
	// Queue bounds each webhook's inbox.
	Queue int
	// MaxPending bounds the records read and not yet delivered everywhere;
	// at it, reading pauses and the backlog waits in Kafka.
	MaxPending int
	// GapWait is how long an event past a seq gap waits for the gap.
	GapWait time.Duration
	// RetryMin and RetryMax bound the backoff between tries of a POST.
	RetryMin, RetryMax time.Duration
	// Timeout bounds one POST.
	Timeout time.Duration
	// Refresh is how often the webhooks are read again (new and deleted
	// ones are seen within it).
	Refresh time.Duration
}

// Dispatcher delivers the log to the webhooks.
type Dispatcher struct {
	log     *slog.Logger
	opts    Options
	store   Store
	src     Source
	client  *http.Client
	offsets *offsets

	// refreshing serialises refreshes, so that an older read of the
	// table never undoes a newer one.
	refreshing sync.Mutex
	mu         sync.Mutex
	hooks      map[string]*hookWorker
	byRoom     map[string][]*hookWorker
	loaded     bool
}

// New returns a Dispatcher reading src.
func New(log *slog.Logger, opts Options, st Store, src Source) *Dispatcher {
	return &Dispatcher{log: log, opts: opts, store: st, src: src, client: newClient(opts.Timeout), offsets: newOffsets(),
		hooks: map[string]*hookWorker{}, byRoom: map[string][]*hookWorker{}}
}

// Ready reports whether the webhooks were read at least once.
func (d *Dispatcher) Ready() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.loaded
}

// Run dispatches until ctx ends or the reader fails, then stops the
// webhooks' workers and commits what they finished.
func (d *Dispatcher) Run(ctx context.Context) error {
	wctx, stopWorkers := context.WithCancel(context.Background())
	defer stopWorkers()
	for {
		err := d.refresh(ctx, wctx)
		if err == nil {
			break
		}
		d.log.Warn("webhooks not read; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	var wg sync.WaitGroup
	bg, stopBG := context.WithCancel(ctx)
	wg.Add(2)
	go func() { defer wg.Done(); d.refreshLoop(bg, wctx) }()
	go func() { defer wg.Done(); d.commitLoop(bg) }()
	err := d.read(ctx, wctx)
	stopBG()
	wg.Wait()
	d.mu.Lock()
	for _, w := range d.hooks {
		w.stop(false)
	}
	d.mu.Unlock()
	d.commit(context.Background())
	return err
}

// read feeds the records to the webhooks of their rooms.
func (d *Dispatcher) read(ctx, wctx context.Context) error {
	full := time.NewTicker(10 * time.Millisecond)
	defer full.Stop()
	for {
		for d.offsets.unfinished() >= d.opts.MaxPending {
			select { // back-pressure: the backlog waits in Kafka
			case <-ctx.Done():
				return nil
			case <-full.C:
			}
		}
		m, err := d.src.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		d.route(ctx, wctx, m)
	}
}

// route hands one record to its room's webhooks.
func (d *Dispatcher) route(ctx, wctx context.Context, m kafka.Message) {
	var ev protocol.Event
	err := json.Unmarshal(m.Value, &ev)
	if err == nil && ev.Kind == bus.TypeWebhooks {
		// A room's webhooks changed: read them before its next records.
		for d.refresh(ctx, wctx) != nil && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
		d.offsets.add(m, 0)
		return
	}
	if err != nil || ev.Room == "" || ev.Seq <= 0 {
		d.offsets.add(m, 0) // the persister dead-letters it
		return
	}
	at, _ := protocol.ParseTime(ev.TS)
	d.mu.Lock()
	var targets []*hookWorker
	for _, w := range d.byRoom[ev.Room] {
		if !at.Before(w.hook.Created) {
			targets = append(targets, w)
		}
	}
	d.mu.Unlock()
	rec := d.offsets.add(m, len(targets))
	pendingRecords.Set(float64(d.offsets.unfinished()))
	if len(targets) == 0 {
		return
	}
	it := item{seq: ev.Seq, rec: rec, id: ev.ID}
	if ev.Kind == bus.TypeFence {
		it.fence = true
	} else {
		it.body = ev.Frame()
	}
	for _, w := range targets {
		w.give(ctx, it)
	}
}

// refresh reads the webhooks, starts workers for new ones and stops those
// of deleted ones.
func (d *Dispatcher) refresh(ctx, wctx context.Context) error {
	d.refreshing.Lock()
	defer d.refreshing.Unlock()
	hooks, err := d.store.Webhooks(ctx)
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(hooks))
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, h := range hooks {
		seen[h.ID] = true
		if d.hooks[h.ID] == nil {
			d.hooks[h.ID] = d.startHook(wctx, h)
		}
	}
	for id, w := range d.hooks {
		if !seen[id] {
			w.stop(true)
			delete(d.hooks, id)
		}
	}
	clear(d.byRoom)
	for _, w := range d.hooks {
		d.byRoom[w.hook.Room] = append(d.byRoom[w.hook.Room], w)
	}
	d.loaded = true
	return nil
}

func (d *Dispatcher) refreshLoop(ctx, wctx context.Context) {
	t := time.NewTicker(d.opts.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.refresh(ctx, wctx); err != nil && ctx.Err() == nil {
				d.log.Warn("webhooks not read again", "err", err)
			}
		}
	}
}

// commitEvery is how often finished offsets are committed.
const commitEvery = 200 * time.Millisecond

func (d *Dispatcher) commitLoop(ctx context.Context) {
	t := time.NewTicker(commitEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.commit(ctx)
			pendingRecords.Set(float64(d.offsets.unfinished()))
		}
	}
}

func (d *Dispatcher) commit(ctx context.Context) {
	msgs := d.offsets.take()
	if len(msgs) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := d.src.CommitMessages(cctx, msgs...); err != nil && !errors.Is(err, context.Canceled) {
		// Uncommitted offsets are read again after a restart; the cursors
		// keep the webhooks from getting those events twice.
		d.log.Warn("webhook offsets not committed", "err", err)
	}
}
