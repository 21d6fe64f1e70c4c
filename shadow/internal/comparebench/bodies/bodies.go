// Package bodies generates the JSON answers the comparison benchmarks
// compare: deterministic order lists of about a given size, and variants
// of them (equal by meaning, differing, equal only under rules).
package bodies

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/stranglerfig/strangler/shadow/compare"
)

// Rules are the rules under which Pair.Ruled equals Pair.A.
var Rules = compare.Rules{
	Ignore:    []string{"$.meta.request_id"},
	Sets:      []string{"$.data.orders[*].items:sku", "$.data.orders[*].tags"},
	Tolerance: map[string]float64{"$..price": 0.01},
	Normalize: []compare.Normalize{{Path: "$..placed_at", Pattern: "timestamp"}, {Path: "$.meta.generated_at", Pattern: "timestamp"}},
}

// Pair is one generated answer and its variants.
type Pair struct {
	A []byte
	// Same is a copy of A: byte-equal.
	Same []byte
	// Reordered is A with its members in another order and other
	// whitespace: equal by meaning, not by bytes.
	Reordered []byte
	// Differing is A with three values changed.
	Differing []byte
	// Ruled is A with a new request id and timestamps, items and tags
	// shuffled and prices moved by less than a cent: equal under Rules
	// only.
	Ruled []byte
}

type item struct {
	SKU   string  `json:"sku"`
	Name  string  `json:"name"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price"`
}

type order struct {
	ID       int      `json:"id"`
	Customer string   `json:"customer"`
	Status   string   `json:"status"`
	PlacedAt string   `json:"placed_at"`
	Items    []item   `json:"items"`
	Total    float64  `json:"total"`
	Tags     []string `json:"tags"`
}

type body struct {
	Meta struct {
		RequestID   string `json:"request_id"`
		GeneratedAt string `json:"generated_at"`
	} `json:"meta"`
	Data struct {
		Orders []order `json:"orders"`
		Count  int     `json:"count"`
	} `json:"data"`
}

var statuses = []string{"placed", "paid", "shipped", "delivered"}
var tagNames = []string{"gift", "express", "fragile", "b2b", "promo"}

// Generate returns a pair whose A is about size bytes (at least one
// order), the same for the same size.
func Generate(size int) Pair {
	r := rand.New(rand.NewPCG(uint64(size), 42))
	var b body
	b.Meta.RequestID = fmt.Sprintf("req-%08x", r.Uint32())
	b.Meta.GeneratedAt = "2024-05-01T10:00:00Z"
	base := time.Date(2024, 4, 1, 8, 0, 0, 0, time.UTC)
	for id := 1; ; id++ {
		o := order{ID: id, Customer: fmt.Sprintf("customer-%d", r.IntN(1000)), Status: statuses[r.IntN(len(statuses))],
			PlacedAt: base.Add(time.Duration(id) * time.Hour).Format(time.RFC3339)}
		for k := range 2 + r.IntN(3) {
			it := item{SKU: fmt.Sprintf("SKU-%d-%d", id, k), Name: fmt.Sprintf("Article %d", r.IntN(500)), Qty: 1 + r.IntN(5), Price: float64(100+r.IntN(9900)) / 100}
			o.Items = append(o.Items, it)
			o.Total += float64(it.Qty) * it.Price
		}
		o.Total = float64(int(o.Total*100+0.5)) / 100
		for _, i := range r.Perm(len(tagNames))[:1+r.IntN(3)] {
			o.Tags = append(o.Tags, tagNames[i])
		}
		b.Data.Orders = append(b.Data.Orders, o)
		b.Data.Count = len(b.Data.Orders)
		if enc := encode(b); len(enc) >= size {
			break
		}
	}
	p := Pair{A: encode(b)}
	p.Same = bytes.Clone(p.A)

	// Members in alphabetical order (through a generic value) and indented.
	var generic any
	if err := json.Unmarshal(p.A, &generic); err != nil {
		panic(err)
	}
	re, err := json.MarshalIndent(generic, "", "  ")
	if err != nil {
		panic(err)
	}
	p.Reordered = re

	d := clone(b)
	last := &d.Data.Orders[len(d.Data.Orders)-1]
	last.Status = "cancelled"
	last.Items[0].Qty++
	d.Data.Orders[0].Customer = "someone-else"
	p.Differing = encode(d)

	ru := clone(b)
	ru.Meta.RequestID = "req-other"
	ru.Meta.GeneratedAt = "2024-05-01T10:00:01.5Z"
	for i := range ru.Data.Orders {
		o := &ru.Data.Orders[i]
		o.PlacedAt = base.Add(time.Duration(o.ID)*time.Hour + time.Second).Format(time.RFC3339Nano)
		r.Shuffle(len(o.Items), func(a, b int) { o.Items[a], o.Items[b] = o.Items[b], o.Items[a] })
		for k := range o.Items {
			o.Items[k].Price += 0.001
		}
		for k, l := 0, len(o.Tags)-1; k < l; k, l = k+1, l-1 {
			o.Tags[k], o.Tags[l] = o.Tags[l], o.Tags[k]
		}
	}
	p.Ruled = encode(ru)
	return p
}

func encode(b body) []byte {
	out, err := json.Marshal(b)
	if err != nil {
		panic(err)
	}
	return out
}

func clone(b body) body {
	var c body
	if err := json.Unmarshal(encode(b), &c); err != nil {
		panic(err)
	}
	return c
}
