package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rookery-chat/rookery/packages/client"
	"github.com/rookery-chat/rookery/packages/db"
)

// SearchResult is the latency of GET /search over a large stored history:
// the searching user is a member of some of the corpus's rooms, and asks
// for words of every frequency.
type SearchResult struct {
	Scenario  string                 `json:"scenario"`
	Stored    int64                  `json:"stored_rows"` // rows of messages in the database
	Corpus    int                    `json:"corpus_messages"`
	Rooms     int                    `json:"rooms"`
	MyRooms   int                    `json:"my_rooms"`
	Queries   int                    `json:"queries"`
	Latency   Percentiles            `json:"latency_ms"`
	ByKind    map[string]Percentiles `json:"latency_ms_by_kind"`
	MeanHits  map[string]float64     `json:"mean_hits_by_kind"`
	SeedSecs  float64                `json:"seed_seconds"` // 0 when the corpus was there already
	Errors    int                    `json:"errors"`
	QueryKind []string               `json:"query_kinds"`
}

const (
	searchRooms   = 200
	searchMyRooms = 20
	searchVocab   = 5000
)

// vocabulary is searchVocab made-up words, the same every run, most
// frequent first (messages draw them with a Zipf law, as text does).
func vocabulary() []string {
	syll := []string{"ka", "lo", "mi", "ren", "sa", "tu", "vel", "dor", "pi", "nex", "ul", "bra", "chi", "fo", "gan", "hy"}
	rng := rand.New(rand.NewPCG(7, 7))
	seen := map[string]bool{}
	var out []string
	for len(out) < searchVocab {
		n := 2 + rng.IntN(3)
		var b strings.Builder
		for range n {
			b.WriteString(syll[rng.IntN(len(syll))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// seedSearch fills searchRooms rooms with n messages by COPY (a read
// benchmark: the corpus need not go through Kafka), unless a corpus of at
// least n is there from an earlier run. It returns the rooms' ids.
func seedSearch(ctx context.Context, pool *pgxpool.Pool, q *db.Queries, sender uuid.UUID, n int, vocab []string) ([]uuid.UUID, bool, error) {
	rows, err := pool.Query(ctx, `SELECT r.id, r.last_seq FROM rooms r WHERE r.name LIKE 'lg-search-corpus-%' ORDER BY r.name`)
	if err != nil {
		return nil, false, err
	}
	var rooms []uuid.UUID
	var have int64
	for rows.Next() {
		var id uuid.UUID
		var last int64
		if err := rows.Scan(&id, &last); err != nil {
			return nil, false, err
		}
		rooms = append(rooms, id)
		have += last
	}
	rows.Close()
	if len(rooms) == searchRooms && have >= int64(n) {
		return rooms, false, nil
	}
	rooms = rooms[:0]
	tag := fmt.Sprint(time.Now().UnixNano() % 1e9)
	for i := range searchRooms {
		r, err := q.CreateRoom(ctx, db.CreateRoomParams{ID: uuid.Must(uuid.NewV7()), Name: fmt.Sprintf("lg-search-corpus-%03d-%s", i, tag),
			Visibility: "public", CreatedBy: pgtype.UUID{Bytes: sender, Valid: true}})
		if err != nil {
			return nil, false, err
		}
		rooms = append(rooms, r.ID)
	}
	zipf := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.07, 2, searchVocab-1)
	rng := rand.New(rand.NewPCG(3, 4))
	seqs := make([]int64, len(rooms))
	start := time.Now().Add(-time.Duration(n) * time.Second)
	const chunk = 50_000
	for done := 0; done < n; done += chunk {
		batch := make([]db.CopyMessagesParams, 0, chunk)
		for i := done; i < min(n, done+chunk); i++ {
			room := rng.IntN(len(rooms))
			seqs[room]++
			words := make([]string, 3+rng.IntN(18))
			for j := range words {
				words[j] = vocab[zipf.Uint64()]
			}
			batch = append(batch, db.CopyMessagesParams{ID: uuid.Must(uuid.NewV7()), RoomID: rooms[room], Seq: seqs[room],
				SenderID: sender, Body: strings.Join(words, " "), Ref: fmt.Sprintf("s%d", i), CreatedAt: start.Add(time.Duration(i) * time.Second),
				Kind: "message"})
		}
		if _, err := q.CopyMessages(ctx, batch); err != nil {
			return nil, false, fmt.Errorf("seed: %w", err)
		}
	}
	for i, id := range rooms {
		if _, err := pool.Exec(ctx, `UPDATE rooms SET last_seq = $2 WHERE id = $1`, id, seqs[i]); err != nil {
			return nil, false, err
		}
	}
	// Fresh statistics and a flushed GIN pending list, as a database that
	// has been running a while would have.
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE messages`); err != nil {
		return nil, false, err
	}
	return rooms, true, nil
}

// runSearch measures GET /search against server with a corpus of n
// messages, queries queries of each kind.
func runSearch(ctx context.Context, server, dbURL string, n, queries int) (SearchResult, error) {
	res := SearchResult{Scenario: "search", Corpus: n, Rooms: searchRooms, MyRooms: searchMyRooms,
		ByKind: map[string]Percentiles{}, MeanHits: map[string]float64{}}
	pool, err := db.Open(ctx, dbURL, 4)
	if err != nil {
		return res, err
	}
	defer pool.Close()
	q := db.New(pool)
	name := fmt.Sprintf("lgs%d", time.Now().UnixNano()%1e9)
	api := client.New(server)
	auth, err := api.Signup(ctx, name, "search-bench-"+name)
	if err != nil {
		return res, err
	}
	me := uuid.MustParse(auth.User.ID)
	vocab := vocabulary()
	start := time.Now()
	rooms, seeded, err := seedSearch(ctx, pool, q, me, n, vocab)
	if err != nil {
		return res, err
	}
	if seeded {
		res.SeedSecs = time.Since(start).Seconds()
	}
	for _, r := range rooms[:searchMyRooms] {
		if err := q.AddMember(ctx, db.AddMemberParams{RoomID: r, UserID: me}); err != nil {
			return res, err
		}
	}
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM messages`).Scan(&res.Stored)

	rng := rand.New(rand.NewPCG(5, 6))
	kinds := []struct {
		name string
		q    func() string
	}{
		{"common word (rank 10-50)", func() string { return vocab[10+rng.IntN(40)] }},
		{"medium word (rank 200-1000)", func() string { return vocab[200+rng.IntN(800)] }},
		{"rare word (rank 2000-5000)", func() string { return vocab[2000+rng.IntN(3000)] }},
		{"two common words", func() string { return vocab[10+rng.IntN(40)] + " " + vocab[10+rng.IntN(40)] }},
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	var all []time.Duration
	for _, k := range kinds {
		res.QueryKind = append(res.QueryKind, k.name)
		var lat []time.Duration
		hits := 0
		for range queries {
			req, _ := http.NewRequestWithContext(ctx, "GET", server+"/api/v1/search?q="+url.QueryEscape(k.q()), nil)
			req.Header.Set("Authorization", "Bearer "+auth.Token)
			t0 := time.Now()
			resp, err := hc.Do(req)
			if err != nil {
				res.Errors++
				continue
			}
			var body struct{ Messages []struct{} }
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			d := time.Since(t0)
			if err != nil || resp.StatusCode != 200 {
				res.Errors++
				continue
			}
			lat = append(lat, d)
			hits += len(body.Messages)
		}
		res.ByKind[k.name] = percentiles(lat)
		res.MeanHits[k.name] = float64(hits) / float64(max(1, len(lat)))
		all = append(all, lat...)
		res.Queries += len(lat)
	}
	res.Latency = percentiles(all)
	return res, nil
}
