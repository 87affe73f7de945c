package chaos

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Row is the outcome of one fault.
type Row struct {
	Fault          string
	Acked          int // messages acknowledged
	DeliveredToAll int // acknowledged messages every subscriber received
	Missing        int // (subscriber, acknowledged message) pairs never received
	Duplicated     int // messages a subscriber received twice
	OutOfOrder     int // messages a subscriber received after a higher seq
	Phantom        int // messages received that were never acknowledged
	NotRecovered   int // subscriptions answered recovered:false
	Closed         int // subscribers closed by a server (a code other than 1001 or none)
	CloseCodes     map[int]int
	Stored         int // rows in PostgreSQL
	StoredTwice    int // refs with more than one row
	WrongSeq       int // refs stored with another seq than their ack's
	Unacked        int // rows of refs never acknowledged
	NotStored      int // acknowledged refs with no row
	Regressed      int // acks whose seq was not above one acknowledged before their send began
	Refused        int // sends answered by an error other than unavailable
	// RecoverLive is how long after the fault ended every subscriber had
	// every message acknowledged before the fault ended; RecoverStore, the
	// same for PostgreSQL.
	RecoverLive, RecoverStore time.Duration
	// Resumed is how long after the fault ended the first message
	// acknowledged after it had reached every subscriber (-1: none did).
	Resumed time.Duration
	// The bounds: delivery resumes within GAP_TIMEOUT + 2 s of the fault's
	// end, storage catches up within 5 s.
	ResumeLimit, StoreLimit time.Duration
	Err                     string
}

// Violations lists what broke a guarantee.
func (r Row) Violations() []string {
	var v []string
	add := func(n int, what string) {
		if n != 0 {
			v = append(v, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(r.Missing, "missing")
	add(r.Duplicated, "duplicated")
	add(r.OutOfOrder, "out of order")
	add(r.Phantom, "never acknowledged but delivered")
	add(r.NotRecovered, "not recovered")
	if r.Closed != 0 {
		v = append(v, fmt.Sprintf("%d closed by a server (codes %v)", r.Closed, r.CloseCodes))
	}
	add(r.StoredTwice, "stored twice")
	add(r.WrongSeq, "stored with another seq")
	add(r.Unacked, "stored but never acknowledged")
	add(r.NotStored, "acknowledged but not stored")
	add(r.Regressed, "seq not increasing")
	add(r.Refused, "refused")
	if r.Acked == 0 {
		v = append(v, "nothing acknowledged")
	}
	switch {
	case r.Resumed < 0:
		v = append(v, "live delivery never resumed")
	case r.ResumeLimit > 0 && r.Resumed > r.ResumeLimit:
		v = append(v, fmt.Sprintf("live delivery resumed after %.1f s (bound %.0f s)", r.Resumed.Seconds(), r.ResumeLimit.Seconds()))
	}
	switch {
	case r.RecoverStore < 0:
		v = append(v, "storage never caught up")
	case r.StoreLimit > 0 && r.RecoverStore > r.StoreLimit:
		v = append(v, fmt.Sprintf("storage caught up after %.1f s (bound %.0f s)", r.RecoverStore.Seconds(), r.StoreLimit.Seconds()))
	}
	if r.Err != "" {
		v = append(v, r.Err)
	}
	return v
}

func (r *Row) fill(a *acks, subs []*subscriber, stored map[string][]int64, before []string, faultEnd time.Time, samples []sample) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r.Acked = len(a.seq)
	r.Regressed, r.Refused = len(a.regress), len(a.refused)
	ackedSeqs := make(map[int64]bool, len(a.seq))
	for _, q := range a.seq {
		ackedSeqs[q] = true
	}
	all := make(map[int64]int, len(a.seq))
	var live time.Time
	for _, s := range subs {
		s.mu.Lock()
		r.Duplicated += s.dups
		r.OutOfOrder += s.outOfOrder
		r.NotRecovered += s.lost
		r.Closed += len(s.closes)
		for _, c := range s.closes {
			if r.CloseCodes == nil {
				r.CloseCodes = map[int]int{}
			}
			r.CloseCodes[c]++
		}
		for q := range s.got {
			if !ackedSeqs[q] {
				r.Phantom++
			}
		}
		for q := range ackedSeqs {
			if _, ok := s.got[q]; ok {
				all[q]++
			} else {
				r.Missing++
			}
		}
		for _, ref := range before {
			if t, ok := s.got[a.seq[ref]]; ok && t.After(live) {
				live = t
			}
		}
		s.mu.Unlock()
	}
	for _, n := range all {
		if n == len(subs) {
			r.DeliveredToAll++
		}
	}
	r.RecoverLive = max(0, live.Sub(faultEnd))
	r.Resumed = -1
	for ref, at := range a.at {
		if !at.After(faultEnd) {
			continue
		}
		var last time.Time
		for _, s := range subs {
			s.mu.Lock()
			t, ok := s.got[a.seq[ref]]
			s.mu.Unlock()
			if !ok {
				last = time.Time{}
				break
			}
			if t.After(last) {
				last = t
			}
		}
		if d := last.Sub(faultEnd); !last.IsZero() && (r.Resumed < 0 || d < r.Resumed) {
			r.Resumed = d
		}
	}
	for ref, seqs := range stored {
		r.Stored += len(seqs)
		q, ok := a.seq[ref]
		switch {
		case !ok:
			r.Unacked += len(seqs)
		case len(seqs) > 1:
			r.StoredTwice++
		case seqs[0] != q:
			r.WrongSeq++
		}
	}
	for ref := range a.seq {
		if _, ok := stored[ref]; !ok {
			r.NotStored++
		}
	}
	r.RecoverStore = -1
	for _, s := range samples {
		if s.n >= len(before) {
			r.RecoverStore = max(0, s.at.Sub(faultEnd))
			break
		}
	}
}

type sample struct {
	at time.Time
	n  int
}

// sampleStored counts the room's stored messages every 200 ms until ctx
// ends; the returned function gives the samples.
func sampleStored(ctx context.Context, pool *pgxpool.Pool, room string) func() []sample {
	var mu sync.Mutex
	var out []sample
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			qctx, cancel := context.WithTimeout(ctx, time.Second)
			n, err := countStored(qctx, pool, room)
			cancel()
			if err == nil {
				mu.Lock()
				out = append(out, sample{time.Now(), n})
				mu.Unlock()
			}
			pause(ctx, 200*time.Millisecond)
		}
	}()
	return func() []sample {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return out
	}
}

func countStored(ctx context.Context, pool *pgxpool.Pool, room string) (int, error) {
	var n int
	err := pool.QueryRow(ctx, "SELECT count(*) FROM messages WHERE room_id = $1 AND NOT fence", room).Scan(&n)
	return n, err
}

// storedRefs reads PostgreSQL directly: ref -> the seqs stored for it.
func storedRefs(ctx context.Context, pool *pgxpool.Pool, room string) (map[string][]int64, error) {
	rows, err := pool.Query(ctx, "SELECT ref, seq FROM messages WHERE room_id = $1 AND NOT fence", room)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]int64{}
	for rows.Next() {
		var ref string
		var seq int64
		if err := rows.Scan(&ref, &seq); err != nil {
			return nil, err
		}
		out[ref] = append(out[ref], seq)
	}
	return out, rows.Err()
}

// PrintTable writes the rows as a Markdown table.
func PrintTable(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| fault | acked | delivered to all | missing | duplicated | out of order | rows in PostgreSQL | live delivery resumed | all before the fault delivered | all before the fault stored | violations |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		v := r.Violations()
		sort.Strings(v)
		vs := "none"
		if len(v) > 0 {
			vs = strings.Join(v, "; ")
		}
		store := "never"
		if r.RecoverStore >= 0 {
			store = fmt.Sprintf("%.1f s", r.RecoverStore.Seconds())
		}
		resumed := "never"
		if r.Resumed >= 0 {
			resumed = fmt.Sprintf("%.2f s", r.Resumed.Seconds())
		}
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %d | %s | %.1f s | %s | %s |\n", r.Fault, r.Acked, r.DeliveredToAll,
			r.Missing, r.Duplicated, r.OutOfOrder, r.Stored, resumed, r.RecoverLive.Seconds(), store, vs)
	}
}
